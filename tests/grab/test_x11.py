"""X11 connection setup: the parser on replies built per the X Window System Protocol
(section 8, "Connection Setup") and captured from Debian 12's Xvfb, hostile servers
(lengths past the data, endless writers), and the real Xvfb started by the test on TCP
(open with -ac; refused with -auth), with the x11-open check on both."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.x11 import (
    SETUP_REQUEST,
    looks_like_setup_reply,
    parse_setup_reply,
    xorg_version,
)
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation

from .conftest import serve
from .sharing_servers import xvfb

IP = "127.20.250.82"
# Captured from Xvfb :139 -auth FILE -listen tcp (xorg-server 21.1.7, Debian 12) for
# SETUP_REQUEST: Failed, reason length 0x40, protocol 11.0, 16 words of reason.
REFUSED = (b"\x00@\x0b\x00\x00\x00\x10\x00"
           b"Authorization required, but no authorization protocol specified\n")


def success_reply(vendor: bytes = b"The X.Org Foundation", release: int = 12101007,
                  screens: int = 1) -> bytes:
    """A Success reply laid out as section 8 says, little-endian: the 32-byte fixed part
    after the 8-byte header, the vendor padded to 4, one FORMAT, then SCREENs (40 bytes
    each) with one DEPTH of one VISUALTYPE (24 bytes)."""
    vpad = vendor + b"\x00" * (-len(vendor) % 4)
    fmt = bytes([24, 32, 32]) + b"\x00" * 5
    visual = struct.pack("<IBBHIII", 0x21, 4, 8, 256, 0xFF0000, 0xFF00, 0xFF) + b"\x00" * 4
    depth = struct.pack("<BBH", 24, 0, 1) + b"\x00" * 4 + visual
    screen = (struct.pack("<IIIII", 0x1E0, 0x20, 0xFFFFFF, 0, 0)
              + struct.pack("<HHHH", 1280, 1024, 325, 260)
              + struct.pack("<HHI", 1, 1, 0x21) + bytes([0, 0, 24, 1]) + depth)
    body = (struct.pack("<IIIIHHBBBBBBBB", release, 0x200000, 0x1FFFFF, 256, len(vendor),
                        65535, screens, 1, 0, 0, 32, 32, 8, 255) + b"\x00" * 4
            + vpad + fmt + screen * screens)
    return b"\x01\x00" + struct.pack("<HHH", 11, 0, len(body) // 4) + body


def test_setup_request_is_section_8s() -> None:
    # byte order 'l', pad, protocol-major 11, minor 0, no auth name or data, pad
    assert SETUP_REQUEST == b"l\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00"


def test_parse_success() -> None:
    s = parse_setup_reply(success_reply())
    assert s["status"] == "success" and s["vendor"] == "The X.Org Foundation"
    assert s["release"] == 12101007 and s["version"] == "21.1.7"
    assert s["screens"] == [{"width": 1280, "height": 1024, "width_mm": 325,
                             "height_mm": 260, "root_depth": 24}]
    two = parse_setup_reply(success_reply(b"Xming", 6090000, screens=2))
    assert two["vendor"] == "Xming" and "version" not in two and len(two["screens"]) == 2
    assert looks_like_setup_reply(success_reply())


def test_parse_refused() -> None:
    s = parse_setup_reply(REFUSED)
    assert s == {"status": "failed", "protocol": "11.0", "reason":
                 "Authorization required, but no authorization protocol specified"}
    auth = b"\x02\x00\x0b\x00\x00\x00\x02\x00" + b"XDM-AUTH"
    assert parse_setup_reply(auth)["status"] == "authenticate"


def test_reply_longer_than_the_cap() -> None:
    """A Success cut at our byte cap (many visuals): the fixed part and vendor read, the
    screens as far as they came; without the cap it is a short reply."""
    ok = success_reply(screens=3)
    cut = ok[:-30]
    with pytest.raises(ProtocolError):
        parse_setup_reply(cut)
    s = parse_setup_reply(cut, capped=True)
    assert s["truncated"] is True and s["vendor"] == "The X.Org Foundation"
    assert s["screens"] == []  # the third screen ran past: none kept rather than a guess
    with pytest.raises(ProtocolError):
        parse_setup_reply(ok[:45], capped=True)  # the vendor itself cut: nothing to say
    assert "truncated" not in parse_setup_reply(ok, capped=True)


def test_xorg_version() -> None:
    assert xorg_version(12101007) == "21.1.7"  # Debian 12's Xvfb
    assert xorg_version(12004000) == "1.20.4"
    assert xorg_version(11903000) == "1.19.3"


def test_hostile_replies() -> None:
    ok = success_reply()
    bad = [
        b"", b"\x01", ok[:20],  # truncated
        ok[:8] + ok[8:40],  # the length field promises more than came
        b"\x01\x00\x0c\x00\x00\x00\x00\x00",  # protocol 12
        b"\x05\x00\x0b\x00\x00\x00\x00\x00",  # no such status
        b"\x00\xff\x0b\x00\x00\x00\x01\x00abcd",  # reason longer than the reply
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
    ]
    huge_vendor = bytearray(ok)
    struct.pack_into("<H", huge_vendor, 24, 60000)  # vendor length past the reply
    bad.append(bytes(huge_vendor))
    many_screens = bytearray(ok)
    many_screens[28] = 255  # 255 screens announced, one present
    bad.append(bytes(many_screens))
    for b in bad:
        with pytest.raises(ProtocolError):
            parse_setup_reply(b)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz(data: bytes) -> None:
    for d in (data, b"\x01\x00\x0b\x00" + data, success_reply()[:40] + data):
        with contextlib.suppress(ProtocolError):
            parse_setup_reply(d)


async def test_endless_x_server_is_bounded(fast: GrabOptions) -> None:
    """Success with a length field of 65535 words, then bytes forever on port 6000+."""
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readexactly(12)
        w.write(b"\x01\x00\x0b\x00\x00\x00\xff\xff")
        while True:
            w.write(b"\x00" * 65536)
            await w.drain()
            await asyncio.sleep(0.001)

    async with serve(endless, IP) as port:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        res = await grab_endpoint(Endpoint(IP, port), fast)
        assert loop.time() - t0 < fast.total_timeout + 2
    # it claimed Success: read as far as the cap, and said so
    x = res.sections["x11"]
    assert x["status"] == "success" and x["truncated"] is True and x["screens"] == []


def _observe(ep: Endpoint, res: object) -> Observation:
    ident = Identifier().identify(res, ep)  # type: ignore[arg-type]
    return Observation.build(ep, "t", res, ident)  # type: ignore[arg-type]


async def test_real_xvfb_open(tmp_path: Path) -> None:
    with xvfb(tmp_path, IP, open_access=True) as port:
        ep = Endpoint(IP, port)
        res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success", res.error
    x = res.sections["x11"]
    assert x["status"] == "success" and x["vendor"] == "The X.Org Foundation"
    assert x["screens"][0]["width"] == 640 and x["screens"][0]["height"] == 480
    assert res.data == (f"X11 success: The X.Org Foundation release {x['release']}, "
                        "screens 640x480").encode()
    assert res.responses["X11Probe"][0] == 1  # the raw reply, for nmap's matchers
    obs = _observe(ep, res)
    assert obs.service == "X11" and obs.product == "X.Org X Server"
    assert obs.version == x["version"] and obs.cpe == [f"cpe:/a:x.org:xorg-server:{obs.version}"]
    [f] = [f for f in assess(obs) if f.id == "x11-open"]
    assert f.severity == "high" and "screen 640x480" in f.evidence


async def test_real_xvfb_refused(tmp_path: Path) -> None:
    with xvfb(tmp_path, IP, open_access=False) as port:
        ep = Endpoint(IP, port)
        res = await grab_endpoint(ep, GrabOptions())
    x = res.sections["x11"]
    assert x["status"] == "failed"
    assert x["reason"] == "Authorization required, but no authorization protocol specified"
    obs = _observe(ep, res)
    assert obs.service == "X11" and "access denied" in (obs.info or "")
    assert "x11-open" not in {f.id for f in assess(obs)}
