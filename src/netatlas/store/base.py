"""The one interface every store backend implements (SQLite now, PostgreSQL later).

Fronts (CLI, API, web) talk to this and nothing else; no SQL or backend detail leaks
above it. Queries arrive as text in the search language; the backend parses and
compiles them for itself, so parse errors surface as ``QuerySyntaxError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from netatlas.model import Observation, Scan


@dataclass(frozen=True, slots=True)
class FacetValue:
    value: Any
    count: int


class Store(Protocol):
    # writes (all through one writer)
    def begin_scan(self, scan: Scan) -> None: ...
    def update_scan(self, scan: Scan) -> None: ...
    def add(self, obs: Observation) -> None: ...
    def flush(self) -> None: ...

    # reads
    def get_scan(self, scan_id: str) -> Scan | None: ...
    def scans(self) -> list[Scan]: ...
    def search(self, query: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]: ...
    def iter_search(self, query: str) -> Iterator[dict[str, Any]]: ...
    def count(self, query: str) -> int: ...
    def facets(
        self, query: str, names: list[str], size: int = 10
    ) -> dict[str, list[FacetValue]]: ...
    def host(self, ip: str, history: bool = True) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...
