"""netatlas's own JSON lines (``netatlas export --format jsonl``, ``search --json``),
read back without loss: every field of the record, its time, scan id and sections, as
written. The banner comes back as the bytes it was: ``data`` renders bytes that are
not UTF-8 as ``\\xNN`` escapes (``model.banner_text``), undone here. (A banner that
itself held the four characters ``\\xNN`` as text reads back as that byte: the one
ambiguity of the text form.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from netatlas.model import Observation

from ._common import (
    MAX_DATA,
    Bad,
    Item,
    Origin,
    Skip,
    address,
    json_objects,
    port_number,
    timestamp,
    transport,
)

_ESCAPE = re.compile(rb"\\x([0-9a-f]{2})")


def banner_bytes(text: str) -> bytes:
    """The inverse of ``model.banner_text``."""
    raw = text.encode("utf-8", errors="surrogateescape")
    if b"\\x" not in raw:
        return raw[:MAX_DATA]
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)[:MAX_DATA]


def convert(rec: dict[str, Any]) -> Observation:
    rec["ip_str"] = address(rec.get("ip_str"))
    rec["port"] = port_number(rec.get("port"))
    rec["transport"] = transport(rec.get("transport"))
    ts = timestamp(rec.get("timestamp"))
    rec["timestamp"] = ts.replace(tzinfo=None).isoformat()
    for key in ("risks",):
        if not isinstance(rec.get(key), list) or not all(
                isinstance(r, dict) and {"id", "severity", "title"} <= set(r)
                for r in rec[key]):
            rec[key] = []
    data = rec.get("data")
    obs = Observation.from_record(rec, banner_bytes(data if isinstance(data, str) else ""))
    if not isinstance(obs.scan_id, str):
        raise Bad("scan_id is not a string")
    return obs


def read(stream: IO[bytes], origin: Origin) -> Iterator[Item]:
    """Records as they were written (their own scan id, their own ``source`` if any)."""
    del origin  # a round trip keeps each record's own origin
    for got in json_objects(stream):
        if isinstance(got, Skip):
            yield got
            continue
        n, rec = got
        try:
            yield convert(rec)
        except Bad as exc:
            yield Skip(n, str(exc))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            yield Skip(n, f"unexpected shape: {type(exc).__name__}: {str(exc)[:120]}")
