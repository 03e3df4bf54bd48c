"""The one escaping function every text output to a terminal goes through.

A scanned server chooses its banner, title and certificate fields; printed raw, a byte
such as ESC, CSI (U+009B) or OSC (U+009D) drives the terminal (moves the cursor, sets
the title, writes to the clipboard) and a bidi override (U+202E) makes text read in a
different order from how it is stored. Each such character becomes a visible escape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

# C0 (TAB kept: it lays out; LF kept only where a value may span lines), DEL, C1
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
# bidi embeddings/overrides (LRE..RLO) and isolates (LRI..PDI)
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _table(keep: Iterable[int]) -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in _CONTROLS} | {c: f"\\u{c:04x}" for c in _BIDI}
    for c in keep:
        table.pop(c, None)
    return table


_ONE_LINE = _table([0x09])
_MULTI_LINE = _table([0x09, 0x0A])


def escape_terminal(text: str, *, multiline: bool = False) -> str:
    """``text`` with every character that could drive a terminal made visible
    (``\\x1b``, ``\\x9b``, ``\\u202e``); line feeds kept when ``multiline``."""
    return text.translate(_MULTI_LINE if multiline else _ONE_LINE)


def escape_json_terminal(line: str) -> str:
    """A JSON text made safe for a terminal and still the same JSON: json.dumps escapes
    C0 itself; C1 and bidi characters become ``\\uXXXX`` escapes."""
    return line.translate(_JSON)


_JSON = {c: f"\\u{c:04x}" for c in [0x7F, *range(0x80, 0xA0), *_BIDI]}


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is a terminal (escape for it) rather than a file or a pipe
    (write the data as stored)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class TerminalWriter:
    """A text stream that escapes what is written through it, lines kept: for formats
    (nmap XML) that have no escaping of their own for these characters."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(escape_terminal(text, multiline=True))

    def flush(self) -> None:
        self._out.flush()
