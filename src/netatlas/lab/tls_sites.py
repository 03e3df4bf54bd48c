"""Lab daemons: Web servers with weak TLS on purpose: legacy protocol versions, expired and
mismatched certificates, short keys — and a modern TLS 1.3 + HTTP/2 one beside them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from netatlas.lab.certs import ensure_ca, write_leaf
from netatlas.lab.daemon import BINARIES, Daemon, Workspace, by_name, mkdir, write
from netatlas.lab.services import ServiceSpec
from netatlas.lab.templates import render

LEGACY_NAME = "legacy.example.test"  # a name no lab address answers to: a mismatch
_PAGES = {
    "legacy": "<html><head><title>legacy TLS site</title></head><body>old</body></html>\n",
    "modern": "<html><head><title>modern TLS site</title></head><body>new</body></html>\n",
}


def _legacy_cert(d: Path) -> None:
    """1024-bit RSA, expired a month ago, for another host name, signed by the lab's
    private CA (so the chain is untrusted without being self-signed)."""
    ca = ensure_ca(d / "ca.crt", d / "ca.key")
    now = dt.datetime.now(dt.UTC)
    write_leaf(d / "legacy.crt", d / "legacy.key", cn=LEGACY_NAME, dns=[LEGACY_NAME], ips=[],
               key_bits=1024, not_before=now - dt.timedelta(days=400),
               not_after=now - dt.timedelta(days=30), issuer=ca)


def _nginx_tls(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    tmp = mkdir(d / "tmp", 0o700, "www-data")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        mkdir(tmp / sub, 0o700, "www-data")
    for site, page in _PAGES.items():
        write(mkdir(d / "www" / site) / "index.html", page)
    _legacy_cert(mkdir(d / "tls", 0o700))
    legacy, modern = by_name(specs, "nginx-tls-legacy"), by_name(specs, "nginx-tls-modern")
    conf = write(d / "nginx.conf", render(
        "nginx-tls.conf.in", dir=d, cert=ws.cert, key=ws.key,
        legacy_ip=legacy.ip, legacy_port=legacy.port,
        modern_ip=modern.ip, modern_port=modern.port))
    return [BINARIES["nginx"], "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)]


DAEMONS: tuple[Daemon, ...] = (Daemon("nginx-tls", "nginx", _nginx_tls),)
