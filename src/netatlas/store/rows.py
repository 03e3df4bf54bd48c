"""An observation as the columns every backend stores, and back.

The banner's exact bytes are kept once per distinct content (``blob_hash``) and
compressed; the record keeps no second copy of them — its ``data`` text is rebuilt
from the bytes on read (``banner_text`` is a pure function of them).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from netatlas.model import Observation, banner_text
from netatlas.query.ipbin import ip_to_bin
from netatlas.query.versions import version_sort_key

_RAW, _ZLIB = b"\x00", b"\x01"
# What full text indexes: words of banner, title and product (FTS5's unicode61 idea of
# a word: a run of letters and digits), the same on every backend.
_WORD = re.compile(r"[^\W_]+")
FTS_MAX_CHARS = 16_384  # a banner's first 16 KiB are searchable; all of it is stored


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
    data: bytes
    record: dict[str, Any]  # the published record without ``data``
    fts_text: str
    record_text: str  # ``record`` as JSON, encoded once, by the thread that adds it


def to_row(obs: Observation) -> ObsRow:
    record = obs.to_record()
    text = record.pop("data")
    http = record.get("http")
    title = http.get("title") if isinstance(http, dict) else None
    if title is not None and not isinstance(title, str):
        title = str(title)
    return ObsRow(
        scan_id=obs.scan_id, ip=obs.ip, ip_bin=ip_to_bin(obs.ip), port=obs.port,
        transport=obs.transport, ts=obs.timestamp.timestamp(), status=obs.status,
        service=obs.service, product=obs.product, version=obs.version,
        version_key=version_sort_key(obs.version), title=title,
        blob_hash=blob_hash(obs.data), data=obs.data, record=record,
        fts_text=" ".join((text[:FTS_MAX_CHARS], title or "", obs.product or "")),
        record_text=record_json(record),
    )


def record_json(record: dict[str, Any]) -> str:
    try:
        return orjson.dumps(record, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        # e.g. a lone surrogate from a server's bytes: ASCII escapes keep it storable
        return json.dumps(record, ensure_ascii=True, default=str, separators=(",", ":"))


def load_record(text: str | bytes) -> dict[str, Any]:
    return orjson.loads(text)  # type: ignore[no-any-return]


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


def pack_blob(data: bytes) -> bytes:
    """Compressed when that saves space; one leading byte says which."""
    if len(data) > 64:
        packed = zlib.compress(data, 6)
        if len(packed) < len(data):
            return _ZLIB + packed
    return _RAW + data


def unpack_blob(stored: bytes) -> bytes:
    stored = bytes(stored)
    if stored[:1] == _ZLIB:
        return zlib.decompress(stored[1:])
    return stored[1:]


def fts_words(text: str) -> list[str]:
    """The words full text indexes and matches, lower-cased."""
    return [w.lower() for w in _WORD.findall(text)]
