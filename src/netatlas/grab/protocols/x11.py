"""X11 grabber: the connection-setup request every X client sends first, with no
authorization (X Window System Protocol, section 8 "Connection Setup"). The server
answers Success (anyone may now read the screen and send keystrokes), Failed with a
reason, or Authenticate. We read the reply and leave; nothing more is requested.

Every length in the reply is checked against what arrived; the reply is capped."""

from __future__ import annotations

import struct
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.registry import Protocol

# 'l': little-endian; protocol 11.0; no authorization name or data (section 8).
SETUP_REQUEST = b"l\x00" + struct.pack("<HHHH", 11, 0, 0, 0) + b"\x00\x00"
MAX_REPLY = 256 * 1024
MAX_SCREENS = 16
X_PORTS = tuple(range(6000, 6064))  # display :N listens on 6000 + N
_STATUS = {0: "failed", 1: "success", 2: "authenticate"}


def reply_size(buf: bytes) -> int | None:
    """Bytes the whole reply takes: 8 plus 4 x the length field at bytes 6-7."""
    if len(buf) < 8:
        return None
    return 8 + 4 * struct.unpack_from("<H", buf, 6)[0]


def reply_complete(buf: bytes) -> bool:
    size = reply_size(buf)
    return size is not None and (len(buf) >= size or buf[0] not in _STATUS)


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").rstrip("\x00\r\n ")[:300]


def _screens(buf: bytes, pos: int, count: int) -> list[dict[str, int]]:
    """The fixed part of each SCREEN (40 bytes), skipping its DEPTHs and VISUALTYPEs."""
    screens = []
    for _ in range(min(count, MAX_SCREENS)):
        if pos + 40 > len(buf):
            raise ProtocolError("X11 screen runs past the reply")
        width, height, width_mm, height_mm = struct.unpack_from("<HHHH", buf, pos + 20)
        root_depth, ndepths = buf[pos + 38], buf[pos + 39]
        screens.append({"width": width, "height": height, "width_mm": width_mm,
                        "height_mm": height_mm, "root_depth": root_depth})
        pos += 40
        for _ in range(ndepths):
            if pos + 8 > len(buf):
                raise ProtocolError("X11 depth runs past the reply")
            nvisuals = struct.unpack_from("<H", buf, pos + 2)[0]
            pos += 8 + 24 * nvisuals
    return screens


def parse_setup_reply(buf: bytes, capped: bool = False) -> dict[str, Any]:
    """Connection-setup reply (little-endian, as we asked) -> status and the server's
    facts. ProtocolError when these bytes are not one. ``capped``: reading stopped at our
    byte cap, so a Success longer than that (many visuals) is read as far as it came
    (``truncated``), its fixed part and vendor whole or not at all."""
    size = reply_size(buf)
    if size is None or buf[0] not in _STATUS:
        raise ProtocolError("not an X11 connection-setup reply")
    major, minor = struct.unpack_from("<HH", buf, 2)
    if major != 11:
        raise ProtocolError(f"X11 reply with protocol major version {major}")
    truncated = capped and buf[0] == 1 and len(buf) < size
    if len(buf) < size and not truncated:
        raise ProtocolError("X11 reply shorter than its length field")
    buf = buf[:size]
    size = len(buf)
    status = _STATUS[buf[0]]
    out: dict[str, Any] = {"status": status, "protocol": f"{major}.{minor}"}
    if status == "failed":
        n = buf[1]
        if 8 + n > size:
            raise ProtocolError("X11 failure reason runs past the reply")
        out["reason"] = _text(buf[8 : 8 + n])
        return out
    if status == "authenticate":
        out["reason"] = _text(buf[8:size])
        return out
    if size < 40:
        raise ProtocolError("X11 success reply too short")
    release, _base, _mask, _motion = struct.unpack_from("<IIII", buf, 8)
    vlen, max_request = struct.unpack_from("<HH", buf, 24)
    nscreens, nformats = buf[28], buf[29]
    vend = 40 + vlen
    if vend > size:
        raise ProtocolError("X11 vendor string runs past the reply")
    out.update({"vendor": _text(buf[40:vend]), "release": release,
                "max_request_length": max_request, "screen_count": nscreens,
                "keycodes": [buf[34], buf[35]]})
    screens_at = vend + (-vlen % 4) + 8 * nformats
    if truncated:
        out["truncated"] = True
        try:
            out["screens"] = _screens(buf, screens_at, nscreens)
        except ProtocolError:
            out["screens"] = []
    else:
        out["screens"] = _screens(buf, screens_at, nscreens)
    if "X.Org" in out["vendor"]:
        out["version"] = xorg_version(release)
    return out


def xorg_version(release: int) -> str:
    """X.Org packs its release as major*10^7 + minor*10^5 + patch*10^3 + snapshot
    (xorg-server's XORG_VERSION_CURRENT). Since 21.1 the server's own name drops the
    leading "1.": Debian 12's Xvfb says 12101007, xorg-server 21.1.7."""
    major, rest = divmod(release, 10_000_000)
    minor, rest = divmod(rest, 100_000)
    patch, snap = divmod(rest, 1000)
    if major == 1 and minor >= 21:
        return f"{minor}.{patch}.{snap}"
    return f"{major}.{minor}.{patch}" + (f".{snap}" if snap else "")


def looks_like_setup_reply(reply: bytes) -> bool:
    """nmap's X11Probe (the same request, big- or little-endian) drew a setup reply."""
    return (len(reply) >= 8 and reply[0] in _STATUS
            and reply[2:4] in (b"\x0b\x00", b"\x00\x0b") and reply[4:6] == b"\x00\x00")


def summary(section: dict[str, Any]) -> bytes:
    """A readable banner (the raw reply stays in ``responses``)."""
    if section["status"] != "success":
        return f"X11 {section['status']}: {section.get('reason', '')}".encode()
    screens = ", ".join(f"{s['width']}x{s['height']}" for s in section["screens"])
    return (f"X11 success: {section['vendor']} release {section['release']}, "
            f"screens {screens or 'none'}").encode("utf-8", "replace")


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, SETUP_REQUEST, reply_complete, MAX_REPLY)
    if isinstance(reply, str):
        return reply
    try:
        section = parse_setup_reply(reply, len(reply) >= min(MAX_REPLY, ctx.opts.max_bytes))
    except ProtocolError:
        return Outcome.NEGATIVE
    ctx.result.service = "X11"
    ctx.result.data = summary(section)
    ctx.result.responses["X11Probe"] = reply[: ctx.opts.max_bytes]  # nmap's probe name
    ctx.result.sections["x11"] = section
    return Outcome.POSITIVE


# An X server hangs up on any first byte but 'B' or 'l' (the byte order): on a port
# nothing hints at, it is asked only when everything else was met by a hang-up.
PROTOCOL = Protocol(name="x11", ports=X_PORTS, probe=probe, unhinted="hang-up-only",
                    in_replies=looks_like_setup_reply, nmap_names=("X11",))
