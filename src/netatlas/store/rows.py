"""An observation as the columns every backend stores, and back.

What repeats is stored once: the banner's exact bytes once per distinct content
(``blob_hash``, compressed), and objects that many records share — a certificate seen on
every host behind one load balancer, a host's location — once per distinct object, in
a table of shared documents; the stored record names them ``{"$ref": "<hash>"}``. The
stored record also drops what its columns already hold (address, port, time, product,
...) and the empty defaults of the published shape, so it holds only what is particular
to the observation. ``publish`` puts the published record back together, keys in their
published order; ``data`` is rebuilt from the bytes (``banner_text`` is a pure function
of them).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from netatlas.model import Observation, Scan, banner_text, format_timestamp, pickled_by_fields
from netatlas.query.fields import Each, IsObject, Json, MaxNumber, NonEmpty, Source
from netatlas.query.ipbin import ip_to_bin
from netatlas.query.versions import version_sort_key
from netatlas.store.dictpack import ZSTD, Dictionaries
from netatlas.store.facetkeys import FacetPairs, facet_pairs, pairs_json

_RAW, _ZLIB = b"\x00", b"\x01"
# What full text indexes: words of banner, title and product (FTS5's unicode61 idea of
# a word: a run of letters and digits), the same on every backend.
_WORD = re.compile(r"[^\W_]+")
FTS_MAX_CHARS = 16_384  # a banner's first 16 KiB are searchable; all of it is stored
# Published keys the columns hold, in published order.
HOT_KEYS = ("ip_str", "port", "transport", "timestamp", "scan_id", "status", "service",
            "product", "version")
# The fixed part of the published shape after the hot keys, with its empty defaults
# (dropped from the stored record when empty, put back on read).
FIXED: tuple[tuple[str, Any], ...] = (
    ("cpe", []), ("cpe23", []), ("data", None), ("hostnames", []), ("tags", []),
    ("info", None), ("os", None), ("devicetype", None), ("risks", []), ("vulns", {}))
# Values many records share, stored once each (paths into the record): a certificate
# served by many hosts, a location, the CVEs of a product version, the findings of a
# configuration, the CPE 2.3 names of a product. Only non-empty objects and lists.
SHARED_PATHS: tuple[tuple[str, ...], ...] = (
    ("ssl", "cert"), ("location",), ("vulns",), ("risks",), ("cpe23",))
REF = "$ref"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class ObsRow:
    scan_id: str
    ip: str
    ip_bin: bytes
    port: int
    transport: str
    ts: float
    status: str
    service: str | None
    product: str | None
    version: str | None
    version_key: bytes | None
    title: str | None
    blob_hash: bytes
    banner: bytes  # the banner's bytes: the writer packs the new ones (pack_blob)
    record: dict[str, Any]  # the stored record: see the module's docstring
    words: str  # what full text indexes: fts_words of banner, title, product, joined
    record_text: str  # ``record`` as JSON, encoded once, by the thread that adds it
    shared: dict[str, str]  # hash (hex) -> JSON of each shared object it refers to
    facets: FacetPairs  # facetkeys.facet_pairs: what the row counts towards while latest
    facets_text: str  # the same as stored JSON


def to_row(obs: Observation, facets: bool = True, keep_record: bool = True) -> ObsRow:
    """``facets``: compute the facet pairs (only a store that keeps running totals
    reads them; they are a third of the encoding's time). ``keep_record`` False: the
    stored record only as ``record_text`` (``record`` empty), for a writer that needs
    no more (unpickling the dict was 3/4 of a row's cost back from an encoder process)."""
    record = obs.to_record()
    text = record["data"]
    http = record.get("http")
    title = http.get("title") if isinstance(http, dict) else None
    if title is not None and not isinstance(title, str):
        title = str(title)
    stored, shared = slim(record)
    pairs = facet_pairs(record) if facets else ()
    return ObsRow(
        scan_id=obs.scan_id, ip=obs.ip, ip_bin=ip_to_bin(obs.ip), port=obs.port,
        transport=obs.transport, ts=obs.timestamp.timestamp(), status=obs.status,
        service=obs.service, product=obs.product, version=obs.version,
        version_key=version_sort_key(obs.version), title=title,
        blob_hash=blob_hash(obs.data), banner=obs.data,
        record=stored if keep_record else {},
        # encoded by the caller's thread, not the store's writer (which the GIL and the
        # word split made 8 % slower)
        words=index_words(text, title, obs.product),
        record_text=record_json(stored), shared=shared, facets=pairs, facets_text=pairs_json(pairs),
    )


def slim(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The published record -> (what the store keeps of it, the shared values it refers
    to by hash)."""
    out = {k: v for k, v in record.items() if k not in HOT_KEYS and k != "data"}
    for key, empty in FIXED:
        if key in out and out[key] == empty and type(out[key]) is type(empty):
            del out[key]
    return out, share(out)


def share(record: dict[str, Any]) -> dict[str, str]:
    """Put ``{"$ref": hash}`` in place of each non-empty shared value of ``record`` (its
    own dict: sections on the way are copied, not changed); return hash -> JSON of each.
    Afterwards a shared value is non-empty exactly when the record names it by hash,
    which the query compilers rely on (a test of one runs over the documents)."""
    shared: dict[str, str] = {}
    for path in SHARED_PATHS:
        parent: Any = record
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        value = parent.get(path[-1]) if isinstance(parent, dict) else None
        if not isinstance(value, dict | list) or not value or _is_ref(value):
            continue
        if parent is not record:  # copy the section on the way down: the caller's is theirs
            section = dict(record[path[0]])
            record[path[0]] = section
            parent = section
        doc = record_json(value)
        ref = hashlib.blake2b(doc.encode(), digest_size=16).hexdigest()
        shared[ref] = doc
        parent[path[-1]] = {REF: ref}
    return shared


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(REF), str)


def publish(stored: dict[str, Any], hot: tuple[Any, ...], data: bytes,
            resolve: Callable[[str], Any]) -> dict[str, Any]:
    """The published record from what the store keeps: ``hot`` holds the column values
    (ip, port, transport, ts, scan_id, status, service, product, version); ``resolve``
    returns a shared object by its hash. Records stored whole by older versions (with
    their own hot keys and ``data``) come back as they were."""
    rec: dict[str, Any] = {}
    for key, value in zip(HOT_KEYS, hot, strict=True):
        rec[key] = format_timestamp(datetime.fromtimestamp(value, UTC)) \
            if key == "timestamp" else value
    for key, empty in FIXED:
        if key == "data":
            rec["data"] = banner_text(data)
        elif key in stored:
            rec[key] = stored[key]
        else:
            rec[key] = None if empty is None else type(empty)()  # a fresh [] or {}
    for key, value in stored.items():
        if key not in rec or key in HOT_KEYS:  # a record stored whole: its values win
            rec[key] = value
    for path in SHARED_PATHS:
        parent: Any = rec
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        ref = parent.get(path[-1]) if isinstance(parent, dict) else None
        if isinstance(ref, dict) and set(ref) == {REF}:
            section = dict(rec[path[0]]) if len(path) > 1 else rec
            section[path[-1]] = resolve(ref[REF])
            if len(path) > 1:
                rec[path[0]] = section
    return rec


def record_json(record: dict[str, Any] | list[Any]) -> str:
    try:
        return orjson.dumps(record, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        # e.g. a lone surrogate from a server's bytes: ASCII escapes keep it storable
        return json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":"))


def load_record(text: str | bytes) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(text)
    return record


def pack_record(text: str, dicts: Dictionaries) -> str | bytes:
    """A history row's stored record as the store keeps it: packed against the record
    dictionary when there is one (bytes), else its JSON text as it was."""
    raw = text.encode()
    packed = dicts.pack("record", raw)
    return text if packed is None else packed


def unpack_record(stored: str | bytes, dicts: Dictionaries) -> dict[str, Any]:
    """A stored record as ``pack_record`` left it: JSON text, or packed bytes."""
    if isinstance(stored, str):
        return load_record(stored)
    return load_record(dicts.unpack(stored))


def with_data(record: dict[str, Any], data: bytes) -> dict[str, Any]:
    """The published record: ``data`` back in its place (after ``cpe23``)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key] = value
        if key == "cpe23":
            out["data"] = banner_text(data)
    if "data" not in out:
        out["data"] = banner_text(data)
    return out


def blob_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def pack_blob(data: bytes, dicts: Dictionaries | None = None) -> bytes:
    """Compressed when that saves space; one leading byte says which. With the store's
    dictionaries (dictpack.py), against its banner dictionary once it has one."""
    if dicts is not None and (packed := dicts.pack("banner", data)) is not None:
        return packed
    if len(data) > 64:
        packed = zlib.compress(data, 1)  # banners are small: speed over the last bytes
        if len(packed) < len(data):
            return _ZLIB + packed
    return _RAW + data


def unpack_blob(stored: bytes, dicts: Dictionaries | None = None) -> bytes:
    stored = bytes(stored)
    kind = stored[:1]
    if kind == _ZLIB:
        return zlib.decompress(stored[1:])
    if kind == ZSTD:
        if dicts is None:
            raise ValueError("a dictionary-packed banner read without the store's dictionaries")
        return dicts.unpack(stored)
    return stored[1:]


def fts_words(text: str) -> list[str]:
    """The words full text indexes and matches, lower-cased."""
    return [w.lower() for w in _WORD.findall(text)]


def index_words(text: str, title: str | None, product: str | None) -> str:
    """What full text indexes of an observation: the words of its banner (as
    ``banner_text`` renders it; the first FTS_MAX_CHARS), title and product."""
    return " ".join(fts_words(" ".join((text[:FTS_MAX_CHARS], title or "", product or ""))))


def shared_prefix(path: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(the shared path a field path lies in, the rest of it), or None: query compilers
    read such a field from the shared document (or from the record, when stored whole)."""
    for prefix in SHARED_PATHS:
        if path[:len(prefix)] == prefix:
            return prefix, path[len(prefix):]
    return None


def shared_source(src: Source) -> tuple[str, ...] | None:
    """The shared path every path a field reads lies in (one shared value: the test
    can run once per distinct value, over the documents), or None."""
    match src:
        case Each(paths):
            pass
        case Json(path) | IsObject(path) | NonEmpty(path) | MaxNumber(path):
            paths = (path,)
        case _:
            return None
    prefixes = {split[0] if (split := shared_prefix(p)) else None for p in paths}
    only = prefixes.pop() if len(prefixes) == 1 else None
    return only



# -- scans -----------------------------------------------------------------------------
# The scans table's columns, the same in every backend, in this order.
SCAN_COLUMNS = "id, started, finished, status, args, done, total, open_ports, observations"


def scan_row(scan: Scan) -> tuple[Any, ...]:
    """A scan as the values of SCAN_COLUMNS (times as unix seconds, args as JSON)."""
    return (scan.id, scan.started.timestamp(),
            scan.finished.timestamp() if scan.finished else None, scan.status,
            json.dumps(scan.args, sort_keys=True), scan.done, scan.total, scan.open_ports,
            scan.observations)


def scan_from_row(row: Sequence[Any]) -> Scan:
    started, finished = row[1], row[2]
    return Scan(id=row[0], started=datetime.fromtimestamp(started, UTC),
                finished=None if finished is None else datetime.fromtimestamp(finished, UTC),
                status=row[3], args=json.loads(row[4]), done=row[5], total=row[6],
                open_ports=row[7], observations=row[8])
