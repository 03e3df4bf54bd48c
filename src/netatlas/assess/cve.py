"""Offline CVE correlation: NVD CVE JSON 2.0 files imported into the store (its CVE
feed tables, through the Store interface), matched by CPE (vendor, product) and
version ranges.

Matches are inferred from the version the service shows, never verified: every result
says ``verified: False``. Only ``vulnerable: true`` cpeMatch entries are kept; the
platform conditions of AND configurations ("running on") are not evaluated.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import ijson  # type: ignore[import-untyped]

from ..query.versions import compare_versions
from ..store import CveEntry, CveRange, Store

SUMMARY_MAX = 1000
# Products whose CPE vendor changed in the dictionary: either name finds both.
VENDOR_ALIASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("f5", "nginx"): ("nginx",),
    ("nginx", "nginx"): ("f5",),
    ("redislabs", "redis"): ("redis",),
    ("redis", "redis"): ("redislabs",),
}


@dataclass(frozen=True, slots=True)
class Cpe:
    part: str
    vendor: str
    product: str
    version: str  # "*" any, "-" not applicable; the update field appended ("9.2" + "p1")


def _unescape(value: str) -> str:
    return value.replace("\\", "")


def parse_cpe(text: str) -> Cpe | None:
    """CPE 2.3 formatted string or 2.2 URI -> its first fields, lower-cased."""
    text = text.strip()
    if text.startswith("cpe:2.3:"):
        fields = text[8:].split(":")
    elif text.startswith("cpe:/"):
        fields = text[5:].split(":")
    else:
        return None
    fields += ["*"] * (5 - len(fields))
    part, vendor, product, version, update = (f or "*" for f in fields[:5])
    if not vendor or vendor == "*" or not product or product == "*":
        return None
    version = _unescape(version)
    update = _unescape(update)
    if version not in ("*", "-") and update not in ("*", "-", ""):
        version += update  # NVD spells OpenSSH 9.2p1 as version 9.2, update p1
    return Cpe(part.lstrip("/").lower(), vendor.lower(), product.lower(), version.lower())


def _metric(metrics: dict[str, Any]) -> tuple[float | None, str | None]:
    """Base score and severity: CVSS 3.1, else 3.0, else 2; the NVD's Primary first."""
    for key in ("cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"):
        entries = metrics.get(key) or []
        entries = sorted(entries, key=lambda e: e.get("type") != "Primary")
        for e in entries:
            data = e.get("cvssData") or {}
            score = data.get("baseScore")
            severity = data.get("baseSeverity") or e.get("baseSeverity")
            if isinstance(score, (int, float)):
                return float(score), (severity or _severity(float(score))).lower()
    return None, None


def _severity(score: float) -> str:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else "none"


def _summary(cve: dict[str, Any]) -> str:
    for d in cve.get("descriptions") or []:
        if d.get("lang") == "en":
            return str(d.get("value", ""))[:SUMMARY_MAX]
    return ""


def _cpe_matches(cve: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for conf in cve.get("configurations") or []:
        for node in conf.get("nodes") or []:
            for m in node.get("cpeMatch") or []:
                if m.get("vulnerable") is True and isinstance(m.get("criteria"), str):
                    yield m


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    p = Path(path)
    with open(p, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(p, "rb"))
    return open(p, "rb")


def _first_line(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__


def _has_vulnerabilities_array(path: str | os.PathLike[str]) -> bool:
    """Is the file an object with a top-level ``vulnerabilities`` array (read as a
    stream, stopping there)?"""
    with _open(path) as f:
        events = ijson.parse(f)
        if next(events, None) != ("", "start_map", None):
            return False
        return any(prefix == "vulnerabilities" and event == "start_array"
                   for prefix, event, _ in events)


def iter_nvd(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The ``cve`` objects of one NVD CVE JSON 2.0 file (.json or .json.gz), one at a
    time: the file is parsed as a stream, never held whole. Raises ``ValueError`` (after
    yielding what came before) when the JSON is invalid or cut short, when an item of
    ``vulnerabilities`` is not a CVE record, or when there is no such array."""
    n, last = 0, None
    try:
        with _open(path) as f:
            for item in ijson.items(f, "vulnerabilities.item", use_float=True):
                cve = item.get("cve") if isinstance(item, dict) else None
                if not isinstance(cve, dict) or not isinstance(cve.get("id"), str):
                    raise ValueError(
                        f"vulnerabilities[{n}] is not a CVE record"
                        " (an object with a 'cve' object that has a string 'id')")
                n, last = n + 1, cve["id"]
                yield cve
    except (ijson.JSONError, UnicodeDecodeError, EOFError, zlib.error,
            gzip.BadGzipFile) as e:
        where = f"after {n} CVE records (the last {last})" if n else "before any CVE record"
        raise ValueError(f"invalid or truncated JSON {where}: {_first_line(e)}"
                         ) from e
    if n == 0 and not _has_vulnerabilities_array(path):
        raise ValueError("not an NVD CVE JSON 2.0 file (no 'vulnerabilities' array)")


def version_in_range(version: str, row: CveRange | dict[str, Any]) -> bool:
    """Does ``version`` fall in the cpeMatch entry: an exact version, or the range bounds
    (a bound that cannot be compared means no match: never guess)."""
    if isinstance(row, CveRange):
        row = {"version": row.version, "start_incl": row.start_incl,
               "start_excl": row.start_excl, "end_incl": row.end_incl,
               "end_excl": row.end_excl}
    exact = row["version"]
    bounds = (row["start_incl"], row["start_excl"], row["end_incl"], row["end_excl"])
    if exact == "-":
        return False
    if exact != "*":
        return compare_versions(version, exact) == 0
    if not any(bounds):
        return True  # every version of the product
    checks = (
        (row["start_incl"], lambda c: c >= 0),
        (row["start_excl"], lambda c: c > 0),
        (row["end_incl"], lambda c: c <= 0),
        (row["end_excl"], lambda c: c < 0),
    )
    for bound, ok in checks:
        if bound:
            c = compare_versions(version, bound)
            if c is None or not ok(c):
                return False
    return True


def nvd_entry(cve: dict[str, Any]) -> CveEntry:
    """One NVD ``cve`` object -> what the store keeps of it."""
    score, severity = _metric(cve.get("metrics") or {})
    ranges = []
    for m in _cpe_matches(cve):
        cpe = parse_cpe(m["criteria"])
        if cpe is not None:
            ranges.append(CveRange(cpe.part, cpe.vendor, cpe.product, cpe.version,
                                   m.get("versionStartIncluding"),
                                   m.get("versionStartExcluding"),
                                   m.get("versionEndIncluding"), m.get("versionEndExcluding"),
                                   m["criteria"]))
    return CveEntry(cve["id"], score, severity, _summary(cve), cve.get("published"),
                    cve.get("lastModified"), ranges)


class CveDB:
    """CVE import and matching over a store's CVE feed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # A scan sees the same few CPEs over and over: remember answers until an import.
        self._cache: dict[tuple[tuple[str, ...], str | None], dict[str, dict[str, Any]]] = {}

    # -- import ------------------------------------------------------------------------

    def import_nvd(self, path: str | os.PathLike[str]) -> int:
        """Load one NVD CVE JSON 2.0 file (a feed or an API page; .json or .json.gz),
        streamed: memory stays flat whatever the file's size. Re-importing a CVE replaces
        it. A file is imported whole or not at all: the store takes it in one
        transaction, so a file that turns out bad half-way (truncated, invalid JSON, an
        item that is not a CVE) raises ``ValueError`` and leaves the store as it was.
        Returns the number of CVEs loaded."""
        return self.import_records(iter_nvd(path))

    def import_records(self, cves: Iterable[Any]) -> int:
        self._cache.clear()
        return self.store.cve_import(
            nvd_entry(c) for c in cves if isinstance(c, dict) and isinstance(c.get("id"), str))

    def count(self) -> int:
        return self.store.cve_count()

    # -- match -------------------------------------------------------------------------

    def match(self, cpes: Iterable[str], version: str | None = None
              ) -> dict[str, dict[str, Any]]:
        """CVEs affecting any of ``cpes``; the version comes from the CPE, else
        ``version``. No version, no match: "all versions" entries aside, a product
        name alone says nothing."""
        key = (tuple(cpes), version)
        if key not in self._cache:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = self._match(key[0], version)
        return {k: dict(v) for k, v in self._cache[key].items()}

    def _match(self, cpes: tuple[str, ...], version: str | None) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for text in cpes:
            cpe = parse_cpe(text)
            if cpe is None:
                continue
            v = cpe.version if cpe.version not in ("*", "-", "") else (version or "")
            if not v:
                continue
            vendors = (cpe.vendor, *VENDOR_ALIASES.get((cpe.vendor, cpe.product), ()))
            for cand in self.store.cve_candidates(cpe.part, cpe.product, vendors):
                if cand.cve_id in out or not version_in_range(v, cand.range):
                    continue
                out[cand.cve_id] = {
                    "cvss": cand.cvss,
                    "severity": cand.severity,
                    "summary": cand.summary,
                    "verified": False,
                }
        return dict(sorted(out.items()))
