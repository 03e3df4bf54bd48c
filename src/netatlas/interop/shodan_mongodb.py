"""Shodan's ``mongodb`` banner property <-> netatlas's ``mongodb`` section.

Shodan's shape (the Datapedia's ``mongodb`` property, typed by the Go client
github.com/shadowscatcher/shodan, models/services/mongodb.go; read as
``mongodb.listDatabases.totalSize`` and ``.databases[].name / sizeOnDisk / empty /
collections`` by LeakLooker, github.com/woj-ciech/LeakLooker): ``authentication``
(whether the server has any authentication enabled), ``buildInfo`` (the buildInfo
command's reply: ``version``, ``gitVersion``, ``allocator``, ``javascriptEngine``,
``bits``, ``debug``, ``sysInfo``, ``modules``, ``openssl.running``,
``buildEnvironment.{distmod,target_arch,target_os}``, ``ok``), ``listDatabases`` (the
listDatabases reply: ``databases``, ``totalSize``, ``ok``) and ``serverStatus`` (an
overview of the server's state; MongoDB's reference documents its ``repl.setName`` and
``repl.hosts``).

netatlas's section (grab/protocols/mongodb.py) holds hello's facts and buildInfo's, as
the grabber names them (``build_facts`` reads Shodan's buildInfo here too, with the
same caps). What Shodan adds that the grabber never asks (it lists no database) is
kept under netatlas-style names: ``auth_required`` (Shodan's ``authentication``),
``databases`` (name, size, empty, collections), ``database_count``, ``total_size``.
hello's facts have no Shodan key: an export writes them beside Shodan's keys under
netatlas's names and an import reads them back, so the section comes back the same.
"""

from __future__ import annotations

from typing import Any

from netatlas.grab.protocols.mongodb import build_facts

from ._shodan_values import (
    MAX_ITEMS,
    Check,
    count,
    flag,
    mapping,
    own,
    put,
    text,
    texts,
)

SHODAN_KEYS = ("authentication", "buildInfo", "listDatabases", "serverStatus")


# hello's facts and what else the grabber keeps that buildInfo's reply does not carry
OWN: dict[str, Check] = {
    "wire_protocol": text, "writable_primary": flag, "secondary": flag, "msg": text,
    "max_wire_version": count, "min_wire_version": count, "max_bson_object_size": count,
    "read_only": flag, "session_timeout_minutes": count, "connection_id": count,
    "auth_mechanisms": texts, "buildinfo_error": text, "replica_set": text,
    "hosts": texts, "buildinfo_answered": flag,
    "database_count": count,  # when more databases were listed than are kept
}
_BUILD = {"version": "version", "git_version": "gitVersion", "allocator": "allocator",
          "javascript_engine": "javascriptEngine", "bits": "bits", "debug": "debug",
          "sys_info": "sysInfo", "modules": "modules"}
_ENVIRONMENT = ("distmod", "target_arch", "target_os")


def _database(v: Any) -> dict[str, Any] | None:
    d = mapping(v)
    if not (name := text(d.get("name"))):
        return None
    out: dict[str, Any] = {"name": name}
    if (size := count(d.get("sizeOnDisk", d.get("size")))) is not None:
        out["size"] = size
    if (empty := flag(d.get("empty"))) is not None:
        out["empty"] = empty
    if (collections := texts(d.get("collections"))) is not None:
        out["collections"] = collections
    return out


def from_shodan(value: dict[str, Any], banner: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    build = mapping(value.get("buildInfo"))
    if isinstance(build.get("version"), str):
        # Shodan keeps the reply of a command that answered; "ok" may be left out
        out.update(build_facts({**build, "ok": build.get("ok", 1)}))
    repl = mapping(mapping(value.get("serverStatus")).get("repl"))
    if name := text(repl.get("setName")):
        out["replica_set"] = name
    if (hosts := texts(repl.get("hosts"), 16)) is not None:
        out["hosts"] = hosts
    if (auth := flag(value.get("authentication"))) is not None:
        out["auth_required"] = auth
    listed = mapping(value.get("listDatabases"))
    if isinstance(listed.get("databases"), list):
        raw = listed["databases"]
        dbs = [d for d in (_database(x) for x in raw[: MAX_ITEMS * 4]) if d]
        out["databases"] = dbs[:MAX_ITEMS]
        out["database_count"] = len(raw)
        if (total := count(listed.get("totalSize"))) is not None:
            out["total_size"] = total
    out.update(own(value, OWN))
    return out


def to_shodan(section: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(section.get("auth_required"), bool):
        out["authentication"] = section["auth_required"]
    if section.get("buildinfo_answered") is True:
        build: dict[str, Any] = {
            shodan: section[ours] for ours, shodan in _BUILD.items() if ours in section}
        if isinstance(section.get("openssl"), str):
            build["openssl"] = {"running": section["openssl"]}
        env = {k: section[k] for k in _ENVIRONMENT if isinstance(section.get(k), str)}
        if env:
            build["buildEnvironment"] = env
        out["buildInfo"] = {**build, "ok": 1.0}
    if isinstance(section.get("databases"), list):
        dbs = [d for d in section["databases"] if isinstance(d, dict)]
        listed: dict[str, Any] = {"databases": [_listed(d) for d in dbs], "ok": 1.0}
        if isinstance(section.get("total_size"), int):
            listed["totalSize"] = section["total_size"]
        out["listDatabases"] = listed
    put(out, section, {k: c for k, c in OWN.items() if k != "buildinfo_answered"})
    if section.get("buildinfo_answered") is False:
        out["buildinfo_answered"] = False  # asked, not answered: no buildInfo to write
    return out


def _listed(db: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": db.get("name")}
    if "size" in db:
        out["sizeOnDisk"] = db["size"]
    for key in ("empty", "collections"):
        if key in db:
            out[key] = db[key]
    return out
