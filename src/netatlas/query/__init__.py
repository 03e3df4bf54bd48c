"""The search language: a Shodan-style query -> AST -> parameterised SQL.

``parse`` checks syntax and every value against the field registry;
``compile_sqlite`` turns the AST into a WHERE fragment over alias ``o``;
``facet_sql`` names the expression (and join) a facet groups by.
"""

from __future__ import annotations

from .ast import And, Glob, Node, Not, Or, Query, Term, Text
from .errors import QuerySyntaxError
from .fields import FACETS, FIELDS, Field
from .help import help_text
from .ipbin import ip_to_bin
from .parser import parse
from .sqlite_compile import FacetSql, SqlWhere, compile_sqlite, facet_sql
from .sqlite_functions import register_functions

__all__ = [
    "FACETS",
    "FIELDS",
    "And",
    "FacetSql",
    "Field",
    "Glob",
    "Node",
    "Not",
    "Or",
    "Query",
    "QuerySyntaxError",
    "SqlWhere",
    "Term",
    "Text",
    "compile_sqlite",
    "facet_sql",
    "help_text",
    "ip_to_bin",
    "parse",
    "register_functions",
]
