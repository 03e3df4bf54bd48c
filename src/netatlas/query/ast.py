"""The parsed form of a query, independent of any backend.

Values are already typed and checked against their field: ints for numbers, unix
seconds (float) for dates, canonical text for addresses and networks, True/False
for booleans, ``Glob`` for wildcard patterns, plain ``str`` otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

# eq: any of ``values``; lt/le/gt/ge: one value; range: (low, high), inclusive,
# either may be None (open); glob: one Glob.
Op = Literal["eq", "lt", "le", "gt", "ge", "range", "glob"]


@dataclass(frozen=True, slots=True)
class Glob:
    """A wildcard pattern: ``*`` any run, ``?`` one character; ``\\`` escapes
    (``\\*``, ``\\?`` and ``\\\\`` are literal)."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Term:
    field: str  # canonical field name (aliases resolved)
    op: Op
    values: tuple[Any, ...]
    column: int = dataclasses.field(default=0, compare=False)  # where the value starts in the text


@dataclass(frozen=True, slots=True)
class Text:
    """Full text over banner, title and product. ``prefix``: the word ended in ``*``."""

    phrase: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Text | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query; ``root`` is None for the empty query (matches everything)."""

    root: Node | None
    text: str = ""
