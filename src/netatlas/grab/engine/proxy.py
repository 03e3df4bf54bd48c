"""Open-proxy check: does this HTTP endpoint fetch a URL of another host for anyone?

The user names a canary URL inside the scan's scope (``--proxy-canary``); nothing is
ever asked of a host outside it. For an endpoint that looks like a proxy, we fetch the
canary once directly and once through the endpoint (an absolute-form ``GET``); the proxy
is open when both answers carry the same status and the same body. A web server that
simply serves its own page for an absolute URI (nginx does) fails that comparison, and a
proxy that refuses (Squid's 403 ``ERR_ACCESS_DENIED``) answers its own error page.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ...model import Endpoint, GrabResult
from ..codecs.httpparse import build_request
from ..protocols.http import fetch
from .context import GrabContext
from .errors import GrabError

# Headers and server names that only forward proxies (and their error pages) show.
_PROXY_HEADERS = ("via", "x-squid-error", "proxy-authenticate", "proxy-connection", "x-cache")
_PROXY_SERVERS = ("squid", "tinyproxy", "privoxy", "polipo", "ziproxy", "ccproxy", "wingate",
                  "apache traffic server", "proxy")
_SOFT = (TimeoutError, ConnectionError, ssl.SSLError, OSError, GrabError)
_CANARY_TTL = 60.0  # one direct fetch of the canary serves a whole batch of proxies


class CanaryError(ValueError):
    """The canary URL is malformed or not an http:// URL."""


@dataclass(frozen=True, slots=True)
class Canary:
    url: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Canary:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise CanaryError(f"proxy canary must be an http:// URL with a host, not {url!r}")
        try:
            port = parts.port or 80
        except ValueError as e:
            raise CanaryError(f"proxy canary {url!r}: {e}") from e
        return cls(url=url, host=parts.hostname, port=port)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def looks_like_proxy(http: dict[str, Any]) -> bool:
    """From the ordinary HTTP grab: a Via / proxy header, a proxy's Server, or a 407."""
    headers = {k.lower(): str(v) for k, v in (http.get("headers") or {}).items()}
    if http.get("status") == 407 or any(h in headers for h in _PROXY_HEADERS):
        return True
    server = headers.get("server", "").lower()
    return any(name in server for name in _PROXY_SERVERS)


def _digest(status: int | None, body: bytes) -> tuple[int | None, str]:
    return status, hashlib.sha256(body).hexdigest()


_direct_cache: dict[str, tuple[float, tuple[int | None, str]]] = {}


async def _direct(ctx: GrabContext, canary: Canary) -> tuple[int | None, str]:
    now = time.monotonic()
    hit = _direct_cache.get(canary.url)
    if hit and now - hit[0] < _CANARY_TTL:
        return hit[1]
    direct = GrabContext(ep=Endpoint(canary.host, canary.port), opts=ctx.opts,
                         result=GrabResult())
    try:
        resp = await fetch(direct, canary.path)
    finally:
        direct.abort_all()
    digest = _digest(resp.status, resp.body)
    _direct_cache[canary.url] = (now, digest)
    return digest


async def check(ctx: GrabContext, canary: Canary) -> None:
    """Fill ``http.proxy`` for an endpoint whose HTTP grab looks like a proxy."""
    http = ctx.result.sections.get("http")
    if not isinstance(http, dict) or not looks_like_proxy(http):
        return
    if (canary.host, canary.port) == (ctx.ep.ip, ctx.ep.port):
        return  # the canary itself
    if not ctx.opts.in_scope(canary.host):
        http["proxy"] = {"canary": canary.url, "error": "canary outside the scan's scope"}
        return
    record: dict[str, Any] = {"canary": canary.url}
    http["proxy"] = record
    _, raw = build_request(canary.netloc, canary.url, ctx.opts.user_agent, ctx.opts.max_bytes)
    try:
        via = await fetch(ctx, canary.url, raw=raw)
        record["status"] = via.status
        record["server"] = (via.header("server") or "")[:100]
        direct = await _direct(ctx, canary)
    except _SOFT as e:
        record["error"] = f"{type(e).__name__}: {e}"[:200]
        return
    record["forwarded"] = via.status is not None and _digest(via.status, via.body) == direct
