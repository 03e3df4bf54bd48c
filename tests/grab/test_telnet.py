import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.telnet import (
    DO,
    DONT,
    IAC,
    WILL,
    WONT,
    looks_done,
    parse,
    refusal,
    section_from,
)
from netatlas.model import Endpoint

from .conftest import serve

NEGOTIATE = bytes([IAC, DO, 24, IAC, DO, 32, IAC, WILL, 1, IAC, WILL, 3])
SUBNEG = bytes([IAC, 250, 24, 1, IAC, 240])


def test_parse() -> None:
    text, cmds, tail = parse(NEGOTIATE + b"Debian GNU/Linux 12\r\n" + SUBNEG + b"login: ")
    assert text == b"Debian GNU/Linux 12\r\nlogin: " and tail == b""
    assert cmds == [(DO, 24), (DO, 32), (WILL, 1), (WILL, 3)]
    assert refusal(cmds) == bytes([IAC, WONT, 24, IAC, WONT, 32, IAC, DONT, 1, IAC, DONT, 3])
    # an incomplete command waits for more; IAC IAC is a literal 0xFF
    assert parse(b"ab" + bytes([IAC, DO])) == (b"ab", [], bytes([IAC, DO]))
    assert parse(bytes([IAC, IAC]))[0] == b"\xff"
    s = section_from(text, cmds)
    assert s["banner"] == "Debian GNU/Linux 12\nlogin:"
    assert s["do"] == ["terminal-type", "terminal-speed"]
    assert s["will"] == ["echo", "suppress-go-ahead"]
    assert looks_done(b"\r\nlogin: ") and not looks_done(b"Welcome")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_fuzz(data: bytes) -> None:
    text, cmds, tail = parse(data)
    assert len(text) <= len(data) and len(tail) <= len(data)
    refusal(cmds)
    section_from(text, cmds)
    looks_done(text)


async def test_live_fake_telnetd(fast: GrabOptions) -> None:
    got = bytearray()

    async def telnetd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(NEGOTIATE)
        await w.drain()
        got.extend(await r.readexactly(12))  # our refusals
        w.write(b"\r\nUbuntu 22.04 LTS\r\n" + SUBNEG + b"box login: ")
        await w.drain()
        await r.read()

    async with serve(telnetd, "127.20.250.65") as port:
        res = await grab_endpoint(Endpoint("127.20.250.65", port), fast)
    assert res.status == "success", res.error
    assert res.service == "telnet"
    assert res.sections["telnet"]["banner"] == "Ubuntu 22.04 LTS\nbox login:"
    assert bytes(got) == refusal(parse(NEGOTIATE)[1])


async def test_live_text_first_then_negotiation(fast: GrabOptions) -> None:
    async def telnetd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"\r\nMikroTik v6.49.10 (stable)\r\n" + NEGOTIATE)
        await w.drain()
        await r.readexactly(12)
        w.write(b"Login: ")
        await w.drain()
        await r.read()

    async with serve(telnetd, "127.20.250.65") as port:
        res = await grab_endpoint(Endpoint("127.20.250.65", port), fast)
    assert res.status == "success", res.error
    assert res.service == "telnet"
    s = res.sections["telnet"]
    assert s["banner"] == "MikroTik v6.49.10 (stable)\nLogin:" and s["will"] == [
        "echo",
        "suppress-go-ahead",
    ]
