"""The first thing every request meets: its head bounded (query string, headers), its
key checked, and only then its body read — at most MAX_BODY bytes of it.

FastAPI reads and parses a JSON body before it resolves a route's dependencies, so a
key checked by a dependency is checked too late: an anonymous client could make the
server hold (and echo) hundreds of megabytes. This ASGI middleware runs before any of
that. The two Shodan routes whose client posts its key inside a form (``POST
/shodan/scan``, ``POST /notifier``) are the exception: sent without a key elsewhere,
their bounded body is read and the route checks the key in it.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netatlas.api._auth import pre_authenticate
from netatlas.api._errors import ApiError, error_response
from netatlas.api._limits import MAX_BODY, MAX_HEADERS, MAX_QUERY_STRING, is_public


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_head(scope)
            if not is_public(scope["path"]):
                await run_in_threadpool(pre_authenticate, Request(scope))
            body = await _read_body(scope, receive)
        except ApiError as exc:
            # the body may be unread: ask the client to stop sending it
            headers = {**(exc.headers or {}), "Connection": "close"}
            await error_response(exc.status, exc.message, headers, **exc.extra)(
                scope, receive, send)
            return
        await self.app(scope, _replay(body, receive) if body is not None else receive, send)


def _check_head(scope: Scope) -> None:
    size = len(scope.get("query_string", b""))
    if size > MAX_QUERY_STRING:
        raise ApiError(414, f"query string too long: {size} bytes; at most "
                            f"{MAX_QUERY_STRING}")
    size = sum(len(k) + len(v) for k, v in scope.get("headers", ()))
    if size > MAX_HEADERS:
        raise ApiError(431, f"request headers too large: {size} bytes; at most {MAX_HEADERS}")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return bytes(v)
    return None


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole body (None when the request says it has none), or a 413 as soon as
    it is known to pass MAX_BODY — from Content-Length before a byte is read."""
    length = _header(scope, b"content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise ApiError(400, "bad Content-Length")
        if int(length) > MAX_BODY:
            raise ApiError(413, f"request body too large: {int(length)} bytes; at most "
                                f"{MAX_BODY}")
        if int(length) == 0:
            return None
    elif _header(scope, b"transfer-encoding") is None:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ApiError(400, "the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"request body too large: over {MAX_BODY} bytes; at most "
                                f"{MAX_BODY}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the route the body already read, then the client's own."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
