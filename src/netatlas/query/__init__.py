"""The search language: a Shodan-style query -> a backend-neutral AST.

``parse`` checks syntax and every value against the field registry (``fields.py``:
each field declared once, with where its value lives); every store backend compiles
the AST into its own SQL (``netatlas.store.sqlite``, ``netatlas.store.postgres``).
"""

from __future__ import annotations

from .ast import And, Glob, Node, Not, Or, Query, Term, Text
from .errors import QuerySyntaxError
from .fields import FACETS, FIELDS, Field, facet_field
from .help import help_text
from .ipbin import ip_to_bin
from .parser import parse
from .values import SEVERITIES

__all__ = [
    "FACETS",
    "FIELDS",
    "SEVERITIES",
    "And",
    "Field",
    "Glob",
    "Node",
    "Not",
    "Or",
    "Query",
    "QuerySyntaxError",
    "Term",
    "Text",
    "facet_field",
    "help_text",
    "ip_to_bin",
    "parse",
]
