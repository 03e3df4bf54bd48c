"""Dotted field paths into a grab result, rendered as text for rule patterns.

``http.headers.server`` walks ``result.sections["http"]["headers"]["server"]``.
A few top-level names are pseudo-fields of the result itself: ``data`` (the raw
banner, bytes decoded latin-1 so each byte is one character), ``service`` (what the
grabber guessed), ``tls``, ``port``, ``transport``, and ``responses.<probe>`` (the raw
reply to one nmap-named probe, e.g. ``responses.GetRequest``). Everything comes from a scanned
server, so each text is capped before a pattern sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netatlas.model import Endpoint, GrabResult

MAX_TEXT = 16 * 1024
PSEUDO_FIELDS = ("data", "service", "tls", "port", "transport", "responses")


def lookup(sections: Mapping[str, Any], path: str) -> Any:
    """The raw value at ``path`` in a sections dict, or None (lists are mapped over)."""
    cur: Any = sections
    for key in path.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(key)
        elif isinstance(cur, list | tuple):
            cur = [x.get(key) for x in cur if isinstance(x, Mapping)]
        else:
            return None
        if cur is None:
            return None
    return cur


def resolve(result: GrabResult, ep: Endpoint | None, path: str) -> Any:
    head = path.split(".", 1)[0]
    if head == "data":
        return result.data or None
    if head == "service":
        return result.service
    if head == "tls":
        return result.tls
    if head == "port":
        return ep.port if ep is not None else None
    if head == "transport":
        return ep.transport if ep is not None else None
    if head == "responses":
        return result.responses.get(path.partition(".")[2]) or None
    return lookup(result.sections, path)


def as_texts(value: Any) -> list[str]:
    """Render a field value as the strings a pattern runs over (one per list item)."""
    if value is None or isinstance(value, Mapping):
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, str):
        return [value[:MAX_TEXT]]
    if isinstance(value, bytes | bytearray | memoryview):
        return [bytes(value[:MAX_TEXT]).decode("latin-1")]
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value[:256]:
            if not isinstance(item, list | tuple):
                out.extend(as_texts(item))
        return out
    return []
