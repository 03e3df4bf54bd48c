"""The one interface every store backend implements (SQLite and PostgreSQL).

Fronts (CLI, API, web), the pipeline and the assess stage talk to this and nothing
else; no SQL or backend detail leaks above it. Queries arrive as text in the search
language; the backend parses and compiles them for itself, so parse errors surface
as ``QuerySyntaxError`` whatever the backend.

Both backends pass the same conformance tests (``tests/store``): same records, counts,
facets, cursors and errors for the same writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from netatlas.model import Observation, Scan

Role = Literal["read", "scan", "admin"]
ROLES: tuple[Role, ...] = ("read", "scan", "admin")  # each role can do what the ones before can


@dataclass(frozen=True, slots=True)
class FacetValue:
    value: Any
    count: int


class FacetCounts(dict[str, list[FacetValue]]):
    """What ``Store.facets`` returns: facet name -> its top values. ``approximate`` is
    True when the backend counted a sample and scaled up (over millions of matching
    rows, as Shodan's facets do); fronts say so."""

    approximate: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a search, newest first. ``next`` is an opaque cursor for the page
    after this one (None on the last page): deep pages cost what the first one does."""

    records: list[dict[str, Any]]
    next: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: Role
    name: str
    created: float
    revoked: float | None = None
    rate: float | None = None
    burst: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "role": self.role, "name": self.name, "created": self.created,
                "revoked": self.revoked, "rate": self.rate, "burst": self.burst}


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key as stored (only the secret's SHA-256): what ``store copy`` moves."""

    key: ApiKey
    hash: str


@dataclass(frozen=True, slots=True)
class CveEntry:
    """One CVE of an offline feed with its vulnerable CPE ranges (``CveRange``)."""

    id: str
    cvss: float | None
    severity: str | None
    summary: str
    published: str | None
    modified: str | None
    ranges: list[CveRange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CveRange:
    part: str
    vendor: str
    product: str
    version: str  # "*" any, "-" n/a, else exact
    start_incl: str | None
    start_excl: str | None
    end_incl: str | None
    end_excl: str | None
    criteria: str


@dataclass(frozen=True, slots=True)
class CveCandidate:
    """A CVE range that names a product; the caller checks the version against it."""

    cve_id: str
    cvss: float | None
    severity: str | None
    summary: str
    range: CveRange


class StoreUnavailable(RuntimeError):
    """The store cannot be reached right now (PostgreSQL restarting, network gone).
    Writers wait and retry; the message says what and where."""


class Store(Protocol):
    url: str  # what opened it: a file path or a postgresql:// URL (password masked)

    # -- observations and scans: writes (batched, one writer) -------------------------
    def begin_scan(self, scan: Scan) -> None: ...
    def update_scan(self, scan: Scan) -> None: ...
    def add(self, obs: Observation) -> None: ...
    def add_many(self, observations: Iterable[Observation]) -> None: ...
    def flush(self) -> None: ...
    # Observations sent that the store held already (same endpoint and time): stored
    # once, not twice. Counted since the store was opened, up to the last commit.
    def already_stored(self) -> int: ...

    # -- reads -------------------------------------------------------------------------
    def get_scan(self, scan_id: str) -> Scan | None: ...
    def scans(self) -> list[Scan]: ...
    def search(self, query: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]: ...
    def page(self, query: str, limit: int = 100, after: str | None = None) -> Page: ...
    def iter_search(self, query: str) -> Iterator[dict[str, Any]]: ...
    def count(self, query: str) -> int: ...
    def facets(self, query: str, names: list[str], size: int = 10) -> FacetCounts: ...
    def host(self, ip: str, history: bool = True) -> list[dict[str, Any]]: ...

    # -- API keys ------------------------------------------------------------------------
    def create_key(self, role: str, name: str = "", rate: float | None = None,
                   burst: int | None = None) -> tuple[str, ApiKey]: ...
    def verify_key(self, secret: str) -> ApiKey | None: ...
    def list_keys(self) -> list[ApiKey]: ...
    def revoke_key(self, key_id: str) -> bool: ...

    # -- the offline CVE feed --------------------------------------------------------------
    def cve_import(self, entries: Iterable[CveEntry]) -> int: ...
    def cve_count(self) -> int: ...
    def cve_candidates(self, part: str, product: str,
                       vendors: tuple[str, ...]) -> list[CveCandidate]: ...

    # -- schema and moving a whole store -------------------------------------------------
    def schema_version(self) -> int: ...
    def migrate(self) -> list[str]: ...
    def export_all(self, after_id: int = 0) -> Iterator[tuple[int, Observation]]: ...
    def key_rows(self) -> list[KeyRow]: ...
    def import_keys(self, rows: Iterable[KeyRow]) -> None: ...
    def cve_entries(self) -> Iterator[CveEntry]: ...
    def meta_get(self, key: str) -> str | None: ...
    def meta_set(self, key: str, value: str) -> None: ...
    def disk_bytes(self) -> int: ...
    def compact(self, full: bool = False) -> None:
        """Give back the space that rows rewritten by rescans leave behind (``netatlas
        store compact``); ``full``: all of it, at the price of locking out searches
        while it runs, where the backend distinguishes."""

    def close(self) -> None: ...
