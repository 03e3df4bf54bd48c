"""nmap XML (``-oX``, also masscan's ``-oX``), read as a stream.

expat is driven directly, 1 MiB at a time, and only one ``<host>`` is held at once, so
a file of any size needs the memory of its largest host. The XML is hostile: entity
declarations (billion laughs, external entities) are refused, as defusedxml refuses
them; the DOCTYPE nmap writes is allowed. A file cut short (an interrupted scan)
imports every host that was complete and reports where it ended.

Mapping (nmap's own names in the DTD, ``/usr/share/nmap/nmap.dtd``): each open
``<port>`` of a host that is up is one observation; ``<service>`` gives service,
product, version, extrainfo (info), ostype (os), devicetype, and ``<cpe>``; a tunnel of
``ssl`` adds an ``ssl`` section; ``<hostname>`` gives hostnames; the best ``<osmatch>``
gives os when the service did not; script outputs go to ``nmap.scripts`` (and
``http-title`` / ``http-server-header`` / ``ssl-cert`` / ``banner`` to the fields they
name). The host's ``starttime`` (else the run's ``start``) is the observation time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from xml.etree.ElementTree import Element
from xml.parsers import expat

from netatlas.model import Observation

from ._common import (
    MAX_DATA,
    MAX_LIST,
    MAX_SCRIPT_OUTPUT,
    Bad,
    Item,
    Origin,
    Skip,
    address,
    mapping,
    port_number,
    stamp,
    text,
    timestamp,
    transport,
)

CHUNK = 1 << 20
MAX_HOST_ELEMENTS = 1_000_000  # a host with every port open and scripts fits under this
MAX_ELEMENT_TEXT = 64 * 1024


class _Forbidden(ValueError):
    pass


@dataclass
class Host:
    """One complete ``<host>`` element, the line it started on, and the run's facts."""

    element: Element
    line: int
    run: dict[str, str] = field(default_factory=dict)


class _Builder:
    """expat handlers that keep the ``<nmaprun>`` attributes and build one ``<host>``
    at a time; finished hosts wait in ``done`` until the reader takes them."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.run: dict[str, str] = {}
        self.stack: list[Element] = []
        self.count = 0
        self.line = 0
        self.done: list[Host | Skip] = []
        self.too_big = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.stack:
            if self.too_big:
                self.stack.append(self.stack[-1])  # keep depth, build nothing
                return
            self.count += 1
            if self.count > MAX_HOST_ELEMENTS:
                self.too_big = True
                self.stack.append(self.stack[-1])
                return
            el = Element(tag, attrs)
            self.stack[-1].append(el)
            self.stack.append(el)
        elif tag == "host":
            self.stack = [Element(tag, attrs)]
            self.count, self.too_big = 1, False
            self.line = self.parser.CurrentLineNumber
        elif tag == "nmaprun":
            self.run = dict(attrs)

    def end(self, tag: str) -> None:
        if not self.stack:
            return
        el = self.stack.pop()
        if not self.stack:
            if self.too_big:
                self.done.append(Skip(self.line, f"host has over {MAX_HOST_ELEMENTS}"
                                                 " elements"))
            else:
                self.done.append(Host(el, self.line, self.run))

    def data(self, chunk: str) -> None:
        if self.stack and not self.too_big:
            el = self.stack[-1]
            if el.text is None:
                el.text = chunk[:MAX_ELEMENT_TEXT]
            elif len(el.text) < MAX_ELEMENT_TEXT:
                el.text = (el.text + chunk)[:MAX_ELEMENT_TEXT]


def _forbid(*_args: Any) -> None:
    raise _Forbidden("entity declarations are not allowed (nmap never writes them)")


def iter_hosts(stream: IO[bytes]) -> Iterator[Host | Skip]:
    """Every ``<host>`` of an nmap-format XML stream, as it completes."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid  # type: ignore[assignment]
    parser.buffer_text = True
    builder = _Builder(parser)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    while True:
        chunk = stream.read(CHUNK)
        try:
            parser.Parse(chunk, not chunk)
        except _Forbidden as exc:
            yield from builder.done
            yield Skip(parser.CurrentLineNumber, f"{exc}; stopped reading")
            return
        except expat.ExpatError as exc:
            yield from builder.done
            where = "file ends inside an element (cut short?)" if not chunk else \
                expat.ErrorString(exc.code)
            yield Skip(exc.lineno, f"XML not well-formed: {where}; stopped reading")
            return
        yield from builder.done
        builder.done.clear()
        if not chunk:
            return


# -- one host -> observations ---------------------------------------------------------------
def _host_time(host: Host) -> Any:
    for value in (host.element.get("starttime"), host.element.get("endtime"),
                  host.run.get("start")):
        if value:
            return timestamp(value)
    raise Bad("no starttime on the host and no start on <nmaprun>")


def _address(el: Element) -> str:
    addrs = el.findall("address")
    for a in addrs:
        if a.get("addrtype") in ("ipv4", "ipv6"):
            return address(a.get("addr"))
    raise Bad("host has no ipv4/ipv6 <address>")


def _os(el: Element) -> str | None:
    best = None
    for m in el.iterfind("os/osmatch"):
        try:
            acc = int(m.get("accuracy") or 0)
        except ValueError:
            acc = 0
        if best is None or acc > best[0]:
            best = (acc, m.get("name"))
    return text(best[1]) if best else None


def _elems(el: Element) -> dict[str, Any]:
    """A script's structured output (``<elem key>``, ``<table key>``) as a dict."""
    out: dict[str, Any] = {}
    for i, child in enumerate(list(el)[:MAX_LIST]):
        key = child.get("key") or str(i)
        if child.tag == "elem":
            out[key] = (child.text or "")[:MAX_SCRIPT_OUTPUT]
        elif child.tag == "table":
            out[key] = _elems(child)
    return out


def _scripts(port: Element, obs: Observation) -> None:
    scripts: dict[str, str] = {}
    for s in port.findall("script")[:MAX_LIST]:
        sid = text(s.get("id"), 64)
        if not sid:
            continue
        output = (s.get("output") or "")[:MAX_SCRIPT_OUTPUT]
        scripts[sid] = output
        if sid == "banner":
            obs.data = output.encode("utf-8", errors="surrogateescape")[:MAX_DATA]
        elif sid == "http-title":
            title = _elems(s).get("title") or output.strip()
            obs.sections.setdefault("http", {})["title"] = text(title)
        elif sid == "http-server-header":
            obs.sections.setdefault("http", {})["server"] = text(output)
        elif sid == "ssl-cert":
            cert = _elems(s)
            ssl = obs.sections.setdefault("ssl", {})
            subject = mapping(cert.get("subject"))
            issuer = mapping(cert.get("issuer"))
            ssl["cert"] = {
                "subject": {"CN": subject.get("commonName")},
                "issuer": {"CN": issuer.get("commonName")},
                "fingerprint": {"sha1": cert.get("sha1"), "md5": cert.get("md5")},
            }
    if scripts:
        obs.sections.setdefault("nmap", {})["scripts"] = scripts


def host_observations(host: Host, origin: Origin, fmt: str) -> Iterator[Item]:
    """The open ports of one host; a port that cannot be read is a ``Skip``."""
    el = host.element
    status = el.find("status")
    if status is not None and status.get("state") not in (None, "up"):
        return
    ip = _address(el)
    when = _host_time(host)
    hostnames = [n for h in el.iterfind("hostnames/hostname")
                 if (n := text(h.get("name"), 255))][:MAX_LIST]
    host_os = _os(el)
    for port in el.iterfind("ports/port"):
        try:
            obs = _port(port, ip, when, hostnames, host_os)
        except Bad as exc:
            yield Skip(host.line, str(exc))
            continue
        if obs is not None:
            yield stamp(obs, origin, fmt, host.line)


def _port(port: Element, ip: str, when: Any, hostnames: list[str],
          host_os: str | None) -> Observation | None:
    state = port.find("state")
    if state is None or state.get("state") != "open":
        return None
    obs = Observation(ip=ip, port=port_number(port.get("portid")),
                      transport=transport(port.get("protocol")), timestamp=when, scan_id="",
                      hostnames=list(hostnames), os=host_os)
    svc = port.find("service")
    section: dict[str, Any] = {}
    if reason := text(state.get("reason"), 64):
        section["reason"] = reason
    if svc is not None:
        obs.service = text(svc.get("name"), 64)
        obs.product = text(svc.get("product"))
        obs.version = text(svc.get("version"), 255)
        obs.info = text(svc.get("extrainfo"))
        obs.os = text(svc.get("ostype")) or host_os
        obs.devicetype = text(svc.get("devicetype"))
        obs.cpe = [c for x in svc.findall("cpe")[:MAX_LIST] if (c := text(x.text, 512))]
        if svc.get("tunnel") == "ssl":
            obs.sections["ssl"] = {}
        if banner := svc.get("banner"):  # masscan -oX banners
            obs.data = banner.encode("utf-8", errors="surrogateescape")[:MAX_DATA]
        if method := text(svc.get("method"), 32):
            section["method"] = method
        if (conf := svc.get("conf", "")).isdigit():
            section["conf"] = int(conf)
    _scripts(port, obs)
    if section:
        obs.sections.setdefault("nmap", {}).update(section)
    return obs


def read(stream: IO[bytes], origin: Origin, fmt: str = "nmap-xml") -> Iterator[Item]:
    for host in iter_hosts(stream):
        if isinstance(host, Skip):
            yield host
            continue
        try:
            yield from host_observations(host, origin, fmt)
        except Bad as exc:
            yield Skip(host.line, str(exc))
