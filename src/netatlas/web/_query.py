"""Query-text helpers for the pages: refining a query by a facet value, pagination.

The UI never builds SQL; it only writes search-language text, which the store parses
like any other user query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

PAGE_SIZE = 20
MAX_QUERY = 2000  # characters; a query box, not an upload
MAX_PAGE = 500  # deep offsets cost the store more than anyone reads

_OR = re.compile(r"(?<![\w\"])OR(?![\w\"])")


class QueryTooLong(ValueError):
    """A query past MAX_QUERY: refused with the bound, never searched cut short (a cut
    query answers a different question than the one asked)."""

    def __init__(self, length: int) -> None:
        super().__init__(f"query too long: {length} characters; at most {MAX_QUERY} "
                         "are read")


def bounded(query: str | None) -> str:
    """``query`` as given, or QueryTooLong."""
    text = query or ""
    if len(text) > MAX_QUERY:
        raise QueryTooLong(len(text))
    return text


@dataclass(frozen=True, slots=True)
class FacetSpec:
    name: str  # facet name the store knows
    label: str  # heading in the sidebar
    field: str  # search field a click refines with


SIDEBAR_FACETS = (
    FacetSpec("port", "Top ports", "port"),
    FacetSpec("service", "Services", "service"),
    FacetSpec("product", "Products", "product"),
    FacetSpec("country", "Countries", "country"),
    FacetSpec("org", "Organizations", "org"),
    FacetSpec("tag", "Tags", "tag"),
)


def quote_value(value: Any) -> str:
    """A value as the search language reads it: numbers bare, strings in double quotes
    with backslash escapes. The value came from a scanned server: quotes, backslashes
    and the wildcards ``*`` ``?`` in it are escaped so it matches only itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return '"' + re.sub(r'([\\"*?])', r"\\\1", text) + '"'


def term(field: str, value: Any) -> str:
    return f"{field}:{quote_value(value)}"


def refine(query: str, field: str, value: Any) -> str:
    """``query`` narrowed by ``field:value`` (implicit AND). A query with a top-level OR
    is parenthesised first, so the new term applies to all of it."""
    q = query.strip()
    t = term(field, value)
    if not q:
        return t
    if t in q.split():
        return q
    if _OR.search(q):
        q = f"({q})"
    return f"{q} {t}"


def search_url(query: str, page: int = 1) -> str:
    params: dict[str, str | int] = {"q": query}
    if page > 1:
        params["page"] = page
    return "/search?" + urlencode(params)


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    pages: int
    total: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def window(self, width: int = 2) -> list[int | None]:
        """Page numbers to show, with ``None`` for a gap: 1 … 4 5 [6] 7 8 … 40."""
        if self.pages <= 1:
            return []
        shown = {1, self.pages, *range(self.page - width, self.page + width + 1)}
        out: list[int | None] = []
        prev = 0
        for p in sorted(n for n in shown if 1 <= n <= self.pages):
            if p - prev > 1:
                out.append(None)
            out.append(p)
            prev = p
        return out


def parse_page(raw: str | None) -> int:
    try:
        page = int(raw or 1)
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def make_pager(page: int, total: int) -> Pager:
    pages = min(max(math.ceil(total / PAGE_SIZE), 1), MAX_PAGE)
    return Pager(page=min(page, pages), pages=pages, total=total)
