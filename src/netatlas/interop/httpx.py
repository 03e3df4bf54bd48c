"""ProjectDiscovery httpx JSON lines (``httpx -json``): one HTTP(S) endpoint a line.

Fields as httpx's ``runner.Result`` writes them: ``timestamp``, ``url``, ``input``,
``host`` (the address it connected to), ``a`` (resolved addresses), ``port`` (a
string), ``scheme``, ``status_code`` (``status-code`` before v1.2), ``title``,
``webserver``, ``content_type``, ``content_length``, ``tech``, ``hash.body_mmh3``,
``favicon`` (mmh3), ``jarm``, ``tls`` (``tls_version``, ``cipher``, ``subject_cn``,
``issuer_cn``, ``fingerprint_hash``), ``header`` (with ``-irh``), ``body`` (``-irr``),
``failed``. Host names are never resolved on import: a line with no address is
skipped.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from netatlas.model import Observation

from ._common import (
    MAX_DATA,
    MAX_LIST,
    Bad,
    Item,
    Origin,
    address,
    each_object,
    mapping,
    port_number,
    text,
    text_list,
    timestamp,
)


def _ip(rec: dict[str, Any]) -> str:
    a = rec.get("a")
    for cand in [rec.get("host"), *(a if isinstance(a, list) else [])]:
        if isinstance(cand, str):
            try:
                return str(ipaddress.ip_address(cand.strip("[]")))
            except ValueError:
                continue
    raise Bad("no IP address (host / a); host names are not resolved on import")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tls(tls: dict[str, Any]) -> dict[str, Any]:
    fp = mapping(tls.get("fingerprint_hash"))
    ssl: dict[str, Any] = {
        "version": text(tls.get("tls_version"), 32),
        "cipher": {"name": text(tls.get("cipher"), 128)},
        "cert": {
            "subject": {"CN": text(tls.get("subject_cn"), 255)},
            "issuer": {"CN": text(tls.get("issuer_cn"), 255)},
            "fingerprint": {k: text(fp.get(k), 128) for k in ("sha256", "sha1", "md5")
                            if fp.get(k)},
            "san": text_list(tls.get("subject_an")),
            "not_before": text(tls.get("not_before"), 64),
            "not_after": text(tls.get("not_after"), 64),
        },
    }
    # httpx says "tls13"; netatlas (and Shodan) say "TLSv1.3"
    digits = (ssl["version"] or "").lower().removeprefix("tls").lstrip("v").replace(".", "")
    if digits.isdigit() and len(digits) == 2:
        ssl["version"] = f"TLSv{digits[0]}.{digits[1]}"
    return ssl


def convert(rec: dict[str, Any]) -> Observation | None:
    if rec.get("failed") is True:
        return None  # httpx writes failed probes with -probe; nothing was seen
    url = text(rec.get("url"), 2048) or ""
    parts = urlsplit(url)
    scheme = (text(rec.get("scheme"), 8) or parts.scheme or "http").lower()
    port = rec.get("port") or parts.port or (443 if scheme == "https" else 80)
    obs = Observation(ip=address(_ip(rec)), port=port_number(port), transport="tcp",
                      timestamp=timestamp(rec.get("timestamp")), scan_id="", service="http")
    status = _int(rec.get("status_code", rec.get("status-code")))
    headers = rec.get("header") if isinstance(rec.get("header"), dict) else None
    http: dict[str, Any] = {
        "status": status,
        "title": text(rec.get("title"), 512),
        "server": text(rec.get("webserver"), 512),
        "content_type": text(rec.get("content_type", rec.get("content-type")), 255),
        "body_length": _int(rec.get("content_length", rec.get("content-length"))),
        "location": text(rec.get("path"), 2048) or parts.path or "/",
        "url": url or None,
        "technologies": [{"name": t} for t in text_list(rec.get("tech"))][:MAX_LIST],
    }
    hashes = mapping(rec.get("hash"))
    if (mmh3 := _int(hashes.get("body_mmh3"))) is not None:
        http["html_hash"] = mmh3
    if (fav := _int(rec.get("favicon"))) is not None:
        http["favicon"] = {"hash": fav}
    if headers:
        http["headers"] = {str(k)[:128]: text(v, 4096) for k, v in
                           list(headers.items())[:MAX_LIST]}
    if isinstance(rec.get("body"), str):
        http["html"] = rec["body"][:MAX_DATA]
    obs.sections["http"] = {k: v for k, v in http.items() if v not in (None, [], {})}
    if isinstance(rec.get("tls"), dict):
        obs.sections["ssl"] = _tls(rec["tls"])
    elif scheme == "https":
        obs.sections["ssl"] = {}
    if jarm := text(rec.get("jarm"), 128):
        obs.sections.setdefault("ssl", {})["jarm"] = jarm
    raw = rec.get("raw_header") or rec.get("response")
    if isinstance(raw, str):
        obs.data = raw.encode("utf-8", errors="surrogateescape")[:MAX_DATA]
    elif status is not None:
        obs.data = f"HTTP/1.1 {status}\r\n".encode()
    host_input = text(rec.get("input"), 255) or parts.hostname
    if host_input:
        name = urlsplit(host_input if "//" in host_input else "//" + host_input).hostname
        if name:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                obs.hostnames = [name]
    return obs


def read(stream: IO[bytes], origin: Origin) -> Iterator[Item]:
    return each_object(stream, origin, "httpx-json", convert)
