"""Shodan's ``redis`` banner property <-> netatlas's ``redis`` section.

Shodan's shape (the Datapedia's ``redis`` property, typed by the Go client
github.com/shadowscatcher/shodan, models/services/redis.go): INFO's reply parsed into
one object per INFO section — ``server`` (``redis_version``, ``redis_mode``, ``os``,
``arch_bits``, ``tcp_port``, ``uptime_in_seconds``, ``redis_git_sha1``,
``redis_build_id``, ``executable``, ``config_file``, ...), ``clients``, ``memory``,
``replication``, ``persistence``, ``stats``, ``cpu``, ``cluster``, ``keyspace``
(``db0`` -> ``"keys=..,expires=.."``) — and ``keys`` (``data``: key names, ``more``).
Numbers are JSON numbers there (``arch_bits``, ``tcp_port``, ``uptime_in_seconds`` are
integers); Redis's INFO reference says which section each field is in.

netatlas's section (grab/protocols/redis.py) keeps INFO's fields it knows
(``INFO_KEYS``) in one ``info`` object, as INFO's text said them, and
``auth_required``. Shodan holds a ``redis`` object only for a server that answered
INFO, so an imported one is ``auth_required: false`` (redis-no-auth). A section of a
server that refused INFO (NOAUTH, protected mode) has no Shodan shape: it goes out as
it is and comes back as it is. ``keyspace`` and ``keys`` are kept under Shodan's names
(capped); the rest of Shodan's INFO objects (cpu, stats, ...) have no place in the
section and are not imported.
"""

from __future__ import annotations

import re
from typing import Any

from netatlas.grab.protocols.redis import INFO_KEYS

from ._shodan_values import MAX_ITEMS, Check, flag, mapping, own, put, scalar, text, texts

# the INFO section each field netatlas keeps is in (Redis's INFO reference)
SECTION_OF = {
    **{k: "server" for k in ("redis_version", "redis_mode", "os", "arch_bits", "tcp_port",
                             "uptime_in_seconds", "redis_git_sha1", "redis_build_id",
                             "executable", "config_file")},
    "connected_clients": "clients", "used_memory_human": "memory",
    "maxmemory_human": "memory", "role": "replication"}
assert set(SECTION_OF) == set(INFO_KEYS)  # a field the grabber gains needs its section
SHODAN_KEYS = ("server", "clients", "memory", "replication", "persistence", "stats",
               "cpu", "cluster", "keyspace", "keys")
_INTEGERS = {"arch_bits", "tcp_port", "uptime_in_seconds", "connected_clients"}
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,17}")


def _keyspace(v: Any) -> dict[str, str] | None:
    if not isinstance(v, dict):
        return None
    out = {k[:32]: t for k, x in list(v.items())[:MAX_ITEMS]
           if isinstance(k, str) and (t := scalar(x))}
    return out or None


def _keys(v: Any) -> dict[str, Any] | None:
    d = mapping(v)
    data = texts(d.get("data"))
    if data is None:
        return None
    return {"data": data, "more": d.get("more") is True or len(d["data"]) > len(data)}


OWN: dict[str, Check] = {"auth_required": flag, "truncated": flag, "protected_mode": flag,
                         "error": text, "keyspace": _keyspace, "keys": _keys}


def is_shodan_shape(value: dict[str, Any]) -> bool:
    return any(isinstance(value.get(k), dict) for k in SHODAN_KEYS if k not in ("keys",))


def from_shodan(value: dict[str, Any], banner: dict[str, Any] | None = None) -> dict[str, Any]:
    out = own(value, OWN)
    if not is_shodan_shape(value):
        return out  # netatlas's own shape (a refusal): its keys, as they are
    info: dict[str, str] = {}
    for key in INFO_KEYS:
        for part in (SECTION_OF[key], *SECTION_OF.values()):  # its section first
            if (got := scalar(mapping(value.get(part)).get(key))) is not None:
                info[key] = got
                break
    return {"auth_required": False, "info": info, **out}


def to_shodan(section: dict[str, Any]) -> dict[str, Any]:
    info = mapping(section.get("info"))
    if section.get("auth_required") is not False or not info:
        return section  # INFO refused: Shodan has no object for it
    out: dict[str, Any] = {}
    for key, part in SECTION_OF.items():
        value = info.get(key)
        if not isinstance(value, str):
            continue
        if key in _INTEGERS and _DECIMAL.fullmatch(value):
            out.setdefault(part, {})[key] = int(value)
        else:
            out.setdefault(part, {})[key] = value
    put(out, section, OWN)
    return out
