"""Search-after cursors: where the last page ended, as an opaque token.

A page ordered newest first ends at some (ts, id); the next page is the rows strictly
before it in that order — a keyset seek, so page 5,000 costs what page 1 does
(FOFA's ``next``, Elasticsearch's ``search_after``). The token also carries a digest
of the query, so a cursor cannot be replayed against another search by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import struct

_FMT = ">dq8s"  # ts (unix seconds), row id, first 8 bytes of the query's SHA-256


class CursorError(ValueError):
    """A cursor that is malformed or belongs to another query."""


def _digest(query: str) -> bytes:
    return hashlib.sha256(query.strip().encode("utf-8", "surrogatepass")).digest()[:8]


def encode(query: str, ts: float, row_id: int) -> str:
    raw = struct.pack(_FMT, ts, row_id, _digest(query))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(query: str, token: str) -> tuple[float, int]:
    """(ts, id) of the last row of the previous page."""
    if not isinstance(token, str) or len(token) > 64:
        raise CursorError("invalid cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        ts, row_id, digest = struct.unpack(_FMT, raw)
    except (ValueError, struct.error):
        raise CursorError("invalid cursor") from None
    if digest != _digest(query):
        raise CursorError("this cursor belongs to another query; start from the first page")
    return ts, row_id
