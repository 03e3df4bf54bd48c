"""JSON lines, as every netatlas writer writes them: one JSON value a line, UTF-8.

JSON allows U+2028 / U+2029 (and the C1 control U+0085) raw inside a string, but
Python's ``str.splitlines()`` — and JavaScript's line readers — end a line at each, so a
banner holding one cut its record in two. They are written as ``\\uXXXX`` escapes, which
read back as the same string. Structure outside strings is ASCII: replacing them in the
encoded text touches only strings.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_SPLITTERS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}
_SPLITTER_BYTES = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"),
                   (b"\xe2\x80\xa9", b"\\u2029"))


def dumps(value: Any) -> str:
    """One line of JSON text (no newline), non-ASCII kept as is but the line breakers."""
    return json.dumps(value, ensure_ascii=False).translate(_SPLITTERS)


def dumps_bytes(value: Any) -> bytes:
    """One line of UTF-8 JSON with its newline (orjson: fast; non-string keys and
    unknown types as strings)."""
    out = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    if b"\xc2\x85" in out or b"\xe2\x80" in out:
        for raw, escaped in _SPLITTER_BYTES:
            out = out.replace(raw, escaped)
    return out + b"\n"
