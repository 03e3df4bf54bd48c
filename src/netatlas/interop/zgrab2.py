"""ZGrab2 JSON lines: ``{"ip", "domain", "data": {MODULE: {status, protocol, result,
timestamp, error}}}`` (ZGrab2's ``ScanResponse``), one observation per module that
reached the service. The modules netatlas also speaks are mapped to its sections:
http, tls, ssh, and the banner modules (ftp, smtp, pop3, imap, telnet); redis, mysql,
postgres, mongodb, memcached and others keep their result as a section of their name.

ZGrab2 does not write the port it connected to (it is the module's ``--port``): a
``port`` in the line or the module result wins, then the HTTP request URL's port,
then the protocol's default port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from netatlas.grab.codecs.httpparse import extract_title
from netatlas.model import Observation

from ._common import (
    MAX_DATA,
    Bad,
    Item,
    Origin,
    Skip,
    address,
    json_objects,
    mapping,
    port_number,
    stamp,
    string,
    text,
    timestamp,
)

DEFAULT_PORTS = {
    "http": 80, "tls": 443, "ssh": 22, "ftp": 21, "smtp": 25, "pop3": 110, "imap": 143,
    "telnet": 23, "redis": 6379, "mysql": 3306, "postgres": 5432, "mongodb": 27017,
    "memcached": 11211, "modbus": 502, "mssql": 1433, "oracle": 1521, "smb": 445,
    "bacnet": 47808, "siemens": 102, "dnp3": 20000, "fox": 1911, "ntp": 123, "ipp": 631,
    "amqp091": 5672, "mqtt": 1883, "pptp": 1723, "jarm": 443, "socks5": 1080,
}
SERVICE = {"tls": None, "postgres": "postgresql", "siemens": "s7", "amqp091": "amqp",
           "mssql": "ms-sql", "jarm": None}
# statuses that mean the port was open and something answered (or hung)
OPEN_STATUSES = ("success", "protocol-error", "application-error", "io-timeout")
BANNER_MODULES = ("ftp", "smtp", "pop3", "imap", "telnet")


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _http(result: dict[str, Any], obs: Observation) -> int | None:
    resp = mapping(result.get("response"))
    headers = mapping(resp.get("headers"))
    flat = {str(k)[:128].replace("_", "-"): text(_first(v), 4096)
            for k, v in list(headers.items())[:128] if k != "unknown"}
    body = string(resp.get("body"))
    status = resp.get("status_code") if isinstance(resp.get("status_code"), int) else None
    obs.sections["http"] = {k: v for k, v in {
        "status": status,
        "title": extract_title(body.encode("utf-8", errors="surrogateescape")),
        "server": flat.get("server"),
        "headers": flat or None,
        "html": body[:MAX_DATA] or None,
        "body_length": len(body),
    }.items() if v is not None}
    proto = mapping(resp.get("protocol"))
    head = f"{text(proto.get('name'), 16) or 'HTTP/1.1'} {text(resp.get('status_line'), 128)}"
    lines = [head] + [f"{k}: {v}" for k, v in flat.items()]
    obs.data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")[:MAX_DATA]
    request = mapping(resp.get("request"))
    url = mapping(request.get("url"))
    tls_log = request.get("tls_log")
    if isinstance(tls_log, dict):
        _tls({"handshake_log": tls_log.get("handshake_log")}, obs)
    host = str(url.get("host") or "")
    if ":" in host and not host.endswith("]"):
        try:
            return int(host.rsplit(":", 1)[1])
        except ValueError:
            return None
    if url.get("scheme") == "https":
        obs.sections.setdefault("ssl", {})
        return 443
    return None


def _tls(result: dict[str, Any], obs: Observation) -> None:
    log = mapping(result.get("handshake_log"))
    hello = mapping(log.get("server_hello"))
    certs = log.get("server_certificates")
    cert = certs.get("certificate") if isinstance(certs, dict) else None
    parsed = cert.get("parsed") if isinstance(cert, dict) else None
    ssl = obs.sections.setdefault("ssl", {})
    version = mapping(hello.get("version"))
    cipher = mapping(hello.get("cipher_suite"))
    if name := text(version.get("name"), 32):
        ssl["version"] = name.replace("TLSv1.0", "TLSv1")
    if name := text(cipher.get("name"), 128):
        ssl["cipher"] = {"name": name}
    if isinstance(parsed, dict):
        subject = mapping(parsed.get("subject"))
        issuer = mapping(parsed.get("issuer"))
        ssl["cert"] = {
            "subject": {"CN": text(_first(subject.get("common_name")), 255)},
            "issuer": {"CN": text(_first(issuer.get("common_name")), 255)},
            "fingerprint": {"sha256": text(parsed.get("fingerprint_sha256"), 64)},
        }


def _ssh(result: dict[str, Any], obs: Observation) -> None:
    sid = mapping(result.get("server_id"))
    raw = text(sid.get("raw"), 255)
    if raw:
        obs.data = (raw + "\r\n").encode("utf-8", "surrogateescape")
    obs.sections["ssh"] = {k: v for k, v in {
        "version_string": raw, "software": text(sid.get("software"), 255),
        "comment": text(sid.get("comment"), 255)}.items() if v}


def _module(name: str, resp: dict[str, Any], ip: str, line_port: Any
            ) -> Observation | None:
    status = text(resp.get("status"), 32) or "success"
    if status not in OPEN_STATUSES:
        return None  # the port did not answer: nothing was observed
    protocol = (text(resp.get("protocol"), 32) or name).lower()
    result = mapping(resp.get("result"))
    obs = Observation(ip=ip, port=0, transport="tcp",
                      timestamp=timestamp(resp.get("timestamp")), scan_id="",
                      status=status, service=SERVICE.get(protocol, protocol),
                      error=text(resp.get("error"), 512))
    port = line_port if line_port is not None else resp.get("port", result.get("port"))
    if protocol == "http":
        url_port = _http(result, obs)
        port = port if port is not None else url_port
    elif protocol in ("tls", "jarm"):
        _tls(result, obs)
    elif protocol == "ssh":
        _ssh(result, obs)
    elif protocol in BANNER_MODULES:
        obs.data = str(result.get("banner") or "").encode("utf-8", "surrogateescape")[:MAX_DATA]
    elif result:
        obs.sections[protocol[:64]] = {"zgrab2": result}
        for key in ("info_response", "banner", "server_version"):  # redis, mysql, ...
            if isinstance(result.get(key), str) and not obs.data:
                obs.data = result[key].encode("utf-8", "surrogateescape")[:MAX_DATA]
    if port is None:
        port = DEFAULT_PORTS.get(protocol)
    if port is None:
        raise Bad(f"no port for module {name!r} (protocol {protocol!r} has no default)")
    obs.port = port_number(port)
    return obs


def read(stream: IO[bytes], origin: Origin) -> Iterator[Item]:
    for got in json_objects(stream):
        if isinstance(got, Skip):
            yield got
            continue
        n, rec = got
        try:
            ip = address(rec.get("ip"))
            data = rec.get("data")
            if not isinstance(data, dict):
                raise Bad("no data{} of module results")
        except Bad as exc:
            yield Skip(n, str(exc))
            continue
        domain = text(rec.get("domain"), 255)
        for name, resp in list(data.items())[:64]:
            try:
                if not isinstance(resp, dict):
                    raise Bad(f"module {str(name)[:32]!r} result is not an object")
                obs = _module(str(name), resp, ip, rec.get("port"))
            except Bad as exc:
                yield Skip(n, str(exc))
                continue
            if obs is not None:
                if domain:
                    obs.hostnames = [domain]
                yield stamp(obs, origin, "zgrab2-json", n)
