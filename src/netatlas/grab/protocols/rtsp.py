"""RTSP (cameras, NVRs, media servers): one ``DESCRIBE`` of the server's root, what a
player sends first. 200 with an SDP body: the stream is served to anyone; 401: the
server asks for credentials (the schemes and realm it offers are kept). Sans-IO parser
plus the probe; nothing is played (no SETUP, no PLAY)."""

from __future__ import annotations

import re
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.exchange import exchange
from ..engine.registry import Protocol

MAX_REPLY = 16384
_STATUS = re.compile(rb"^RTSP/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?\n")
_SDP_LINES = {"s": "session_name", "i": "info", "a=tool": "tool"}


def describe_request(host: str, port: int, user_agent: str) -> bytes:
    return (f"DESCRIBE rtsp://{host}:{port}/ RTSP/1.0\r\nCSeq: 1\r\n"
            f"Accept: application/sdp\r\nUser-Agent: {user_agent}\r\n\r\n").encode()


def _split(buf: bytes) -> tuple[bytes, bytes] | None:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = buf.partition(b"\n\n")
    return (head, body) if sep else None


def reply_complete(buf: bytes) -> bool:
    """Headers in, and as much body as Content-Length says."""
    parts = _split(buf)
    if parts is None:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", parts[0])
    return m is None or len(parts[1]) >= int(m.group(1))


def parse_sdp(text: str) -> dict[str, Any]:
    """The few SDP facts worth keeping: session name, tool, and each media line."""
    out: dict[str, Any] = {}
    media: list[str] = []
    for line in text.splitlines()[:200]:
        key, _, value = line.partition("=")
        if key == "s" and value.strip():
            out["session_name"] = value.strip()[:200]
        elif key == "i" and value.strip():
            out["info"] = value.strip()[:200]
        elif key == "a" and value.startswith("tool:"):
            out["tool"] = value[5:].strip()[:200]
        elif key == "m" and len(media) < 8:
            media.append(value.strip()[:100])
    if media:
        out["media"] = media
    return out


def parse_reply(buf: bytes) -> dict[str, Any] | None:
    """A DESCRIBE reply -> the ``rtsp`` section, or None when it is not RTSP."""
    m = _STATUS.match(buf)
    parts = _split(buf)
    if m is None or parts is None:
        return None
    headers: dict[str, str] = {}
    auth: list[str] = []
    for line in parts[0].decode("latin-1").splitlines()[1:60]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = name.strip().lower(), value.strip()[:300]
        if key == "www-authenticate":
            auth.append(value)
        headers.setdefault(key, value)
    status = int(m.group(1))
    out: dict[str, Any] = {
        "status": status,
        "reason": (m.group(2) or b"").decode("latin-1").strip()[:100],
        "auth_required": status == 401,
    }
    if headers.get("server"):
        out["server"] = headers["server"]
    if auth:
        out["auth_schemes"] = sorted({a.split(" ", 1)[0].capitalize() for a in auth})
        realm = re.search(r'realm="([^"]{0,100})"', auth[0])
        if realm:
            out["realm"] = realm.group(1)
    if status == 200 and "sdp" in headers.get("content-type", ""):
        out["sdp"] = parse_sdp(parts[1][:8192].decode("utf-8", errors="replace"))
    return out


async def probe(ctx: GrabContext) -> str:
    request = describe_request(ctx.hostname, ctx.ep.port, ctx.opts.user_agent)
    reply = await exchange(ctx, request, reply_complete, MAX_REPLY)
    if isinstance(reply, str):
        return reply
    section = parse_reply(reply)
    if section is None:
        return Outcome.NEGATIVE
    ctx.result.service = "rtsp"
    ctx.result.data = reply
    ctx.result.responses["rtsp-DESCRIBE"] = reply
    ctx.result.sections["rtsp"] = section
    return Outcome.POSITIVE


_SERVER = re.compile(rb"(?im)^server:[^\r\n]*\brtsp\b")

PROTOCOL = Protocol(
    name="rtsp", ports=(554, 8554), probe=probe,
    # an RTSP server answering our GET in its own protocol
    in_replies=lambda reply: reply.startswith(b"RTSP/1."),
    # one that also answers HTTP (RTSP-over-HTTP tunnelling, GStreamer's "503" with
    # Server: GStreamer RTSP Server) is first of all an RTSP server
    behind_http=lambda reply: _SERVER.search(reply) is not None)
