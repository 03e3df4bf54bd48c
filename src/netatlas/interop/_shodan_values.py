"""Reading values out of a Shodan protocol object (hostile input: a file anyone may
have written) for the section translators: each helper gives a value of the type asked
for, cut to a bound, or None. Nothing here raises on a wrong type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

MAX_TEXT = 256  # one name, version, class name
MAX_ITEMS = 64  # keyspaces, databases, collections, modules kept per section

Check = Callable[[Any], Any]


def text(v: Any, cap: int = MAX_TEXT) -> str | None:
    if not isinstance(v, str):
        return None
    return v.replace("\x00", "")[:cap] or None


def count(v: Any) -> int | None:
    """A non-negative integer (JSON numbers that are whole count too: 2.0 -> 2)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v or v < 0:
        return None
    if isinstance(v, float) and (not v.is_integer() or v > 2**63):
        return None
    return int(v)


def flag(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def mapping(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def texts(v: Any, cap: int = MAX_ITEMS) -> list[str] | None:
    """A list of strings (others dropped), at most ``cap`` of them; None if no list."""
    if not isinstance(v, list):
        return None
    return [t for t in (text(x) for x in v[: cap * 4]) if t][:cap]


def scalar(v: Any) -> str | None:
    """An INFO-style value as the text a server would have said (7 -> "7")."""
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        return None
    return text(v if isinstance(v, str) else str(v))


def own(value: Mapping[str, Any], spec: Mapping[str, Check]) -> dict[str, Any]:
    """The keys of ``value`` that netatlas's own section has, each passed through its
    check (a value that fails it is left out): what an export of netatlas's section
    carried beside Shodan's keys, read back. A null stays null: the grabber writes some
    keys as null when it could not tell (an FTP server that never said SYST)."""
    out: dict[str, Any] = {}
    for key, check in spec.items():
        if key not in value:
            continue
        if value[key] is None:
            out[key] = None
        elif (got := check(value[key])) is not None:
            out[key] = got
    return out


def put(out: dict[str, Any], section: Mapping[str, Any], spec: Mapping[str, Check]) -> None:
    """Copy the section's own keys (those Shodan has no name for) into an export."""
    out.update(own(section, spec))
