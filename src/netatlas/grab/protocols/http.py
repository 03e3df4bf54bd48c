"""HTTP/1.1 grabber (h11, sans-IO parser in ``httpparse``): nmap's GetRequest probe,
``GET /`` with our headers, the favicon, single GETs of ``/.git/HEAD`` and ``/.env``
(recorded only when they really are those files), and the well-known API paths that
``http_followups`` chooses from what ``GET /`` showed, all on the same endpoint. Never
follows a redirect: the Location is recorded. An application whose answers make a
section of their own (``elastic``) is read by its module from the same replies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import ssl
from typing import Any
from urllib.parse import urljoin, urlsplit

import mmh3

from ..codecs.httpparse import (
    HttpResponse,
    ResponseParser,
    build_request,
    decode_body,
    extract_title,
    icon_links,
    looks_like_image,
    parse_response,
)
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import GrabError, ProtocolError
from ..engine.registry import Protocol
from . import elastic, http_followups

GET_REQUEST = b"GET / HTTP/1.0\r\n\r\n"  # nmap-service-probes "GetRequest", byte for byte
HTML_KEEP = 16 * 1024
_HTTP_ONLY = ("http/1.1",)  # we speak HTTP/1.1 only: never let ALPN pick h2 for a fetch
_SOFT_ERRORS = (TimeoutError, ConnectionError, ssl.SSLError, OSError, GrabError)


def host_header(ctx: GrabContext) -> str:
    host = ctx.hostname
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    default = 443 if ctx.tls else 80
    return host if ctx.ep.port == default else f"{host}:{ctx.ep.port}"


def base_url(ctx: GrabContext) -> str:
    return f"{'https' if ctx.tls else 'http'}://{host_header(ctx)}/"


async def _exchange(ctx: GrabContext, conn: Conn, request: bytes, parser: ResponseParser) -> None:
    opts = ctx.opts
    await conn.write(request, opts.read_timeout)
    loop = asyncio.get_running_loop()
    # A whole response gets two read timeouts: enough on any sane link, and a drip
    # feeder cannot hold us longer.
    deadline = loop.time() + 2 * opts.read_timeout
    got = False
    while not parser.done:
        remaining = deadline - loop.time()
        if remaining <= 0:
            if not got:
                raise TimeoutError
            break
        try:
            data = await conn.read_some(remaining)
        except (TimeoutError, ConnectionError, ssl.SSLError):
            if not got:
                raise
            break
        if not data:
            parser.eof()
            break
        got = True
        parser.feed(data)


async def fetch(ctx: GrabContext, target: str = "/", raw: bytes | None = None) -> HttpResponse:
    """One request on a fresh connection (TLS-wrapped if the endpoint is)."""
    h, request = build_request(host_header(ctx), target, ctx.opts.user_agent, ctx.opts.max_bytes)
    parser = ResponseParser(h, ctx.opts.max_bytes, ctx.opts.max_body)
    conn = await ctx.open(alpn=_HTTP_ONLY)
    try:
        await _exchange(ctx, conn, raw if raw is not None else request, parser)
    finally:
        await conn.close()
    return parser.result()


async def probe(ctx: GrabContext) -> str:
    """nmap's GetRequest: whatever comes back is kept for identify's matchers."""
    try:
        resp = await fetch(ctx, "/", raw=GET_REQUEST)
    except TimeoutError:
        return Outcome.SILENT
    except (ConnectionError, ssl.SSLError, ProtocolError):
        return Outcome.NEGATIVE
    if resp.raw:
        ctx.result.responses["GetRequest"] = resp.raw
    if resp.raw.startswith(b"HTTP/") and resp.status is not None:
        return Outcome.POSITIVE
    return Outcome.NEGATIVE


def http_section(resp: HttpResponse, host: str, body_cap: int) -> dict[str, Any]:
    """The "http" section from one parsed response (sans-IO)."""
    body, decode_error = decode_body(resp.body, resp.header("content-encoding"), body_cap)
    section: dict[str, Any] = {
        "status": resp.status,
        "title": extract_title(body),
        "server": resp.header("server"),
        "headers": resp.header_dict(),
        "html": body[:HTML_KEEP].decode("utf-8", errors="replace"),
        "html_hash": mmh3.hash(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_length": len(body),
        "location": "/",
        "redirect": resp.header("location"),
        "host": host,
        "http_version": resp.http_version,
        "truncated": resp.truncated,
    }
    if resp.error:
        section["parse_error"] = resp.error
    if decode_error:
        section["decode_error"] = decode_error
    return section


EXPOSED_PATHS = ("/.git/HEAD", "/.env")
SAMPLE_BYTES = 200
_GIT_HEAD = re.compile(rb"(ref: refs/\S+|[0-9a-f]{40})\s*", re.I)
_ENV_LINE = re.compile(rb"(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=.*")
_ENV_VALUE = re.compile(rb"^((?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=).*$", re.M)


def looks_like_git_head(body: bytes) -> bool:
    """``ref: refs/heads/main`` or a detached 40-hex sha, and nothing else (a soft-404
    HTML page that mentions "ref:" does not count)."""
    return bool(_GIT_HEAD.fullmatch(body[:512]))


def looks_like_env(body: bytes) -> bool:
    """Mostly ``KEY=VALUE`` lines (comments and blanks allowed), no markup."""
    head = body[:4096]
    if b"<" in head[:200] and re.search(rb"<(!doctype|html|head|body)", head, re.I):
        return False
    lines = [ln.strip() for ln in head.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(b"#")]
    if not lines:
        return False
    good = sum(1 for ln in lines if _ENV_LINE.fullmatch(ln))
    return good >= 1 and good * 2 > len(lines)


def env_sample(body: bytes) -> str:
    """The first bytes with every value masked: the evidence is which keys leak, and the
    store must not become a second copy of someone's secrets."""
    masked = _ENV_VALUE.sub(rb"\1***", body[:SAMPLE_BYTES])
    return masked.decode("utf-8", errors="replace")


async def exposed_files(ctx: GrabContext) -> dict[str, dict[str, Any]]:
    """One GET per well-known leak; kept only when the reply is really that file."""
    found: dict[str, dict[str, Any]] = {}
    for path in EXPOSED_PATHS:
        try:
            resp = await fetch(ctx, path)
        except _SOFT_ERRORS:
            continue
        if resp.status != 200 or not resp.body:
            continue
        body, err = decode_body(resp.body, resp.header("content-encoding"), ctx.opts.max_body)
        if err:
            continue
        if path == "/.git/HEAD" and looks_like_git_head(body):
            sample = body[:SAMPLE_BYTES].decode("utf-8", errors="replace")
        elif path == "/.env" and looks_like_env(body):
            sample = env_sample(body)
        else:
            continue
        found[path] = {"status": resp.status, "length": len(body), "sample": sample}
    return found


API_SAMPLE = http_followups.API_SAMPLE
# The paths asked of every endpoint (the rest depend on GET /: see http_followups).
API_PATHS = {r.name: r.path for r in http_followups.FOLLOW_UPS if not r.when}


async def api_documents(ctx: GrabContext, section: dict[str, Any] | None = None,
                        rows: list[http_followups.FollowUp] | None = None,
                        replies: dict[str, tuple[int | None, bytes] | None] | None = None,
                        ) -> dict[str, str]:
    """The documents the well-known paths chosen from ``GET /`` returned (or ``rows``),
    capped; each path is asked once even when two rows share it (``replies`` carries what
    was asked already), and kept only as its row accepts."""
    found: dict[str, str] = {}
    replies = {} if replies is None else replies
    for row in http_followups.select(section or {}) if rows is None else rows:
        if row.path not in replies:
            replies[row.path] = await _get_body(ctx, row.path)
        reply = replies[row.path]
        if reply is None or not row.keep:  # not kept: read from ``replies`` by its parser
            continue
        doc = http_followups.accepted(row, *reply)
        if doc is not None:
            found[row.name] = doc
    return found


async def _get_body(ctx: GrabContext, path: str) -> tuple[int | None, bytes] | None:
    """(status, decoded body) of one GET, or None when it failed or did not decode."""
    try:
        resp = await fetch(ctx, path)
    except _SOFT_ERRORS:
        return None
    body, err = decode_body(resp.body, resp.header("content-encoding"), ctx.opts.max_body)
    return None if err else (resp.status, body)


def _same_endpoint_target(ctx: GrabContext, href: str) -> str | None:
    """The request target for ``href`` if it points back at this endpoint, else None."""
    if href.lower().startswith(("data:", "javascript:")):
        return None
    url = urlsplit(urljoin(base_url(ctx), href))
    scheme = "https" if ctx.tls else "http"
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        return None
    names = {ctx.hostname.lower().strip("[]"), ctx.ep.ip.lower()}
    if url.scheme != scheme or (url.hostname or "") not in names or port != ctx.ep.port:
        return None
    return (url.path or "/") + (f"?{url.query}" if url.query else "")


async def favicon(ctx: GrabContext, body: bytes) -> dict[str, Any] | None:
    targets = ["/favicon.ico"]
    for href in icon_links(body)[:3]:
        t = _same_endpoint_target(ctx, href)
        if t and t not in targets:
            targets.append(t)
    for target in targets:
        try:
            resp = await fetch(ctx, target)
        except _SOFT_ERRORS:
            continue
        if resp.status != 200 or not resp.body or resp.truncated:
            continue
        data, err = decode_body(resp.body, resp.header("content-encoding"), ctx.opts.max_body)
        if err or not looks_like_image(data, resp.header("content-type")):
            continue
        return {
            "hash": mmh3.hash(base64.encodebytes(data)),  # Shodan's http.favicon.hash
            "location": urljoin(base_url(ctx), target),
            "size": len(data),
        }
    return None


async def grab(ctx: GrabContext) -> None:
    res = ctx.result
    res.service = "http"
    if "GetRequest" not in res.responses:
        await probe(ctx)
    try:
        resp = await fetch(ctx, "/")
    except _SOFT_ERRORS:
        # The full request failed; the GetRequest reply may still describe the server.
        raw = res.responses.get("GetRequest", b"")
        resp = parse_response(raw, ctx.opts.max_bytes, ctx.opts.max_body)
        if resp.status is None:
            raise
    if resp.status is None:
        res.data = resp.raw
        raise ProtocolError(f"not an HTTP response: {resp.error or 'no status line'}")
    res.data = resp.raw
    section = http_section(resp, host_header(ctx), ctx.opts.max_body)
    res.sections["http"] = section
    decoded, _ = decode_body(resp.body, resp.header("content-encoding"), ctx.opts.max_body)
    # The targeted follow-ups first: they name the application, and must not be the part
    # a slow endpoint loses to the grab's total time-out.
    rows = http_followups.select(section)
    replies: dict[str, tuple[int | None, bytes] | None] = {}
    api = await api_documents(ctx, rows=[r for r in rows if r.when], replies=replies)
    if api:
        section["api"] = api  # the same dict grows below
    found = elastic.section(resp.status, section["headers"], decoded,
                            replies.get(elastic.INDICES_PATH))
    if found is not None:
        res.sections["elastic"] = found
    icon = await favicon(ctx, decoded)
    if icon:
        section["favicon"] = icon
    exposed = await exposed_files(ctx)
    if exposed:
        section["exposed"] = exposed
    api.update(await api_documents(ctx, rows=[r for r in rows if not r.when], replies=replies))
    if api:
        section["api"] = api
    reply = await _get_body(ctx, http_followups.error_page_path())
    error = http_followups.error_page(*reply) if reply is not None else None
    if error is not None:
        section["error_page"] = error


# A layer the engine drives itself (engine/detect.py: probe, then what answers HTTP
# besides a web server, then grab), so no probe here.
PROTOCOL = Protocol(
    name="http", ports=(80, 81, 591, 2080, 3000, 5000, 5601, 7001, 8000, 8008, 8080, 8081, 8088,
                        8888, 9000, 9090, 9200, 10000),
    tls_ports=(443, 4443, 8443, 9443, 10443), unhinted="in-order",
    nmap_names=("http-proxy",), nmap_probe="GetRequest")
