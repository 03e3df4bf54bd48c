"""masscan output: ``-oJ`` (a JSON array, one object a line), ``-oD`` (NDJSON with
``rec_type``), ``-oL`` (``open tcp 80 1.2.3.4 1600000000`` lines) and ``-oX`` (nmap-like
XML, read by ``nmap_xml``). Shapes as masscan's ``src/out-json.c``, ``out-ndjson.c``,
``out-text.c`` and ``out-xml.c`` write them.

masscan writes an endpoint's open status and each of its banners as separate records;
they are merged into one observation per (address, port, protocol) while they are
within a bounded window of recent endpoints (``WINDOW``), so memory stays flat however
long the file. A banner whose status record is out of the window stands alone.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO, Any

from netatlas.model import Observation

from . import nmap_xml
from ._common import (
    MAX_DATA,
    Bad,
    Item,
    Origin,
    Skip,
    address,
    mapping,
    port_number,
    read_lines,
    stamp,
    text,
    timestamp,
    transport,
)

WINDOW = 65_536  # endpoints held for banner merging
# masscan's service names (masscan-app.c) that netatlas names otherwise
_SERVICE = {"ssl": None, "x509": None, "title": None, "html": None, "http.server": None,
            "vnc": "vnc", "smbv1": "smb", "smbv2": "smb"}


def _unescape(banner: str) -> bytes:
    """masscan's JSON banners escape every non-printable byte as ``\\u00XX`` (JSON
    decoding has turned them back into U+0000-U+00FF): the bytes it saw."""
    return banner.encode("latin-1", errors="replace")[:MAX_DATA]


_HEX = re.compile(rb"\\x([0-9a-fA-F]{2})")


def _unescape_list(banner: bytes) -> bytes:
    """-oL banners escape non-printable bytes as ``\\xXX``."""
    return _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), banner)[:MAX_DATA]


class _Merger:
    """Open ports and their banners, joined per endpoint inside a bounded window."""

    def __init__(self, origin: Origin, fmt: str) -> None:
        self.origin, self.fmt = origin, fmt
        self.pending: OrderedDict[tuple[str, int, str], Observation] = OrderedDict()

    def _evict(self) -> Iterator[Observation]:
        while len(self.pending) > WINDOW:
            yield self.pending.popitem(last=False)[1]

    def status(self, line: int, ip: str, port: int, proto: str, when: Any, state: str,
               reason: str | None, ttl: Any) -> Iterator[Observation]:
        if state != "open":
            return
        key = (ip, port, proto)
        if key in self.pending:
            return
        obs = stamp(Observation(ip=ip, port=port, transport=transport(proto),
                                timestamp=timestamp(when), scan_id=""),
                    self.origin, self.fmt, line)
        section: dict[str, Any] = {}
        if reason:
            section["reason"] = text(reason, 32)
        if isinstance(ttl, int):
            section["ttl"] = ttl
        if section:
            obs.sections["masscan"] = section
        self.pending[key] = obs
        yield from self._evict()

    def banner(self, line: int, ip: str, port: int, proto: str, when: Any, app: str | None,
               banner: bytes) -> Iterator[Observation]:
        key = (ip, port, proto)
        obs = self.pending.get(key)
        if obs is None:
            obs = stamp(Observation(ip=ip, port=port, transport=transport(proto),
                                    timestamp=timestamp(when), scan_id=""),
                        self.origin, self.fmt, line)
            self.pending[key] = obs
        name = (app or "").lower()
        service = _SERVICE.get(name, name) if name else None
        banners = obs.sections.setdefault("masscan", {}).setdefault("banners", {})
        if name and name not in banners:
            banners[name] = banner.decode("latin-1")[:4096]
        if name in ("ssl", "x509"):
            obs.sections.setdefault("ssl", {})
        if name == "title":
            obs.sections.setdefault("http", {})["title"] = text(banner.decode("latin-1"))
        elif service and (obs.service is None or not obs.data):
            obs.service = service
            obs.data = banner
        yield from self._evict()

    def rest(self) -> Iterator[Observation]:
        yield from self.pending.values()
        self.pending.clear()


def _json_lines(stream: IO[bytes], merger: _Merger) -> Iterator[Item]:
    """-oJ and -oD: one object a line (-oJ's lines carry a leading or trailing comma
    and the array's brackets around them)."""
    for n, raw in read_lines(stream):
        if raw is None:
            yield Skip(n, "line too long")
            continue
        line = raw.strip().strip(b",").strip()
        if line in (b"", b"[", b"]"):
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield Skip(n, f"not JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            yield Skip(n, "not a JSON object")
            continue
        if "finished" in obj and "ip" not in obj:
            continue  # old masscan's closing {finished: 1}
        try:
            yield from _one(n, obj, merger)
        except Bad as exc:
            yield Skip(n, str(exc))


def _one(n: int, obj: dict[str, Any], merger: _Merger) -> Iterator[Observation]:
    ip = address(obj.get("ip"))
    when = obj.get("timestamp")
    if "rec_type" in obj:  # -oD
        data = mapping(obj.get("data"))
        port, proto = port_number(obj.get("port")), str(obj.get("proto") or "tcp")
        if obj["rec_type"] == "banner":
            yield from merger.banner(n, ip, port, proto, when, data.get("service_name"),
                                     _unescape(str(data.get("banner") or "")))
        else:
            yield from merger.status(n, ip, port, proto, when, str(data.get("status")),
                                     data.get("reason"), data.get("ttl"))
        return
    ports = obj.get("ports")
    if not isinstance(ports, list) or not ports:
        raise Bad("no ports[]")
    for p in ports[:64]:
        if not isinstance(p, dict):
            raise Bad("a ports[] entry is not an object")
        port, proto = port_number(p.get("port")), str(p.get("proto") or "tcp")
        svc = p.get("service")
        if isinstance(svc, dict):
            yield from merger.banner(n, ip, port, proto, when, svc.get("name"),
                                     _unescape(str(svc.get("banner") or "")))
        else:
            yield from merger.status(n, ip, port, proto, when, str(p.get("status")),
                                     p.get("reason"), p.get("ttl"))


def _list(stream: IO[bytes], merger: _Merger) -> Iterator[Item]:
    """-oL: ``open tcp 80 1.2.3.4 1600000000`` and
    ``banner tcp 80 1.2.3.4 1600000000 http HTTP/1.0 200 OK…``; ``#`` lines are comments."""
    for n, raw in read_lines(stream):
        if raw is None:
            yield Skip(n, "line too long")
            continue
        if not raw.strip() or raw.startswith(b"#"):
            continue
        parts = raw.split(b" ", 6)
        try:
            if len(parts) < 5:
                raise Bad("expected STATE PROTO PORT IP TIME")
            state, proto, port_s, ip_s, when = (p.decode("latin-1") for p in parts[:5])
            ip, port = address(ip_s), port_number(port_s)
            if state == "banner":
                app = parts[5].decode("latin-1") if len(parts) > 5 else None
                banner = parts[6] if len(parts) > 6 else b""
                yield from merger.banner(n, ip, port, proto, when, app,
                                         _unescape_list(banner))
            else:
                yield from merger.status(n, ip, port, proto, when, state, None, None)
        except Bad as exc:
            yield Skip(n, str(exc))


def _xml(stream: IO[bytes], origin: Origin, merger: _Merger) -> Iterator[Item]:
    for item in nmap_xml.read(stream, origin, "masscan-xml"):
        if isinstance(item, Skip):
            yield item
            continue
        section = item.sections.pop("nmap", {})
        line = item.sections["import"]["line"]
        key = (item.ip, item.port, item.transport)
        if item.data or key in merger.pending:
            yield from merger.banner(line, item.ip, item.port, item.transport,
                                     item.timestamp.timestamp(), item.service, item.data)
        else:
            yield from merger.status(line, item.ip, item.port, item.transport,
                                     item.timestamp.timestamp(), "open",
                                     section.get("reason"), None)


def read(stream: IO[bytes], origin: Origin, variant: str) -> Iterator[Item]:
    merger = _Merger(origin, f"masscan-{variant}")
    if variant == "xml":
        yield from _xml(stream, origin, merger)
    elif variant == "list":
        yield from _list(stream, merger)
    else:
        yield from _json_lines(stream, merger)
    yield from merger.rest()
