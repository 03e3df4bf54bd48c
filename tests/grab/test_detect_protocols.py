"""detect.py wiring for the pop3/imap/vnc/telnet/nats greetings and the mqtt, amqp, ldap,
zookeeper and dns probes, and each new probe against hostile servers."""

import asyncio

import pytest

from netatlas.grab import GrabOptions
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.detect import (
    classify_greeting,
    hint_from_replies,
    probe_order,
    tables,
)
from netatlas.model import Endpoint, GrabResult

from .conftest import serve

NEW_PROBES = ("mqtt", "amqp", "ldap", "zookeeper", "dns")


def test_greetings_have_grabbers() -> None:
    assert classify_greeting(b'INFO {"server_id":"x"}\r\n') == "nats"
    assert classify_greeting(b"\r\nWelcome\r\n\xff\xfb\x01\xff\xfb\x03login: ") == "telnet"
    assert classify_greeting(b"\xff\xfd\x18") == "telnet"
    assert classify_greeting(b"\x00\xc3( hello \xff\xfe\x00 world\r\n") is None  # noise
    assert classify_greeting(b"220 ftp ready\r\n", 21) == "ftp"
    for proto in ("pop3", "imap", "vnc", "telnet", "nats"):
        assert proto in tables().greeting_grabbers


def test_port_hints_and_order() -> None:
    for port, name in (
        (1883, "mqtt"),
        (5672, "amqp"),
        (389, "ldap"),
        (2181, "zookeeper"),
        (53, "dns"),
        (8883, "tls"),
        (5671, "tls"),
    ):
        assert probe_order(port)[0] == name
        assert sorted(probe_order(port)) == sorted(tables().default_order)
    assert tables().default_order[-1] == "dns"  # it waits silently on other probes' bytes
    assert set(NEW_PROBES) <= set(tables().probes)


def test_hint_from_replies() -> None:
    assert hint_from_replies({"GetRequest": b"AMQP\x00\x00\x09\x01"}) == "amqp"
    assert hint_from_replies({"GetRequest": b"HTTP/1.1 400 Bad Request\r\n"}) is None


def _ctx(port: int, opts: GrabOptions) -> GrabContext:
    return GrabContext(ep=Endpoint("127.20.250.70", port), opts=opts, result=GrabResult())


@pytest.mark.parametrize("name", NEW_PROBES)
async def test_probe_against_tarpit(fast: GrabOptions, name: str) -> None:
    async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async with serve(tarpit, "127.20.250.70") as port:
        ctx = _ctx(port, fast)
        try:
            # SILENT is the bound: without a read deadline the tarpit's close after
            # 60 s would be read as a hang-up (NEGATIVE)
            assert await tables().probes[name](ctx) == Outcome.SILENT
        finally:
            ctx.abort_all()
    assert ctx.result.service is None


@pytest.mark.parametrize("name", NEW_PROBES)
@pytest.mark.parametrize(
    "junk",
    [
        b"\x00" * 4096 + b"\xff\xfe",
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        b"\x30\x84\x7f\xff\xff\xff",
    ],
)
async def test_probe_against_junk(fast: GrabOptions, name: str, junk: bytes) -> None:
    async def liar(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(1)
        w.write(junk)
        await w.drain()

    async with serve(liar, "127.20.250.70") as port:
        ctx = _ctx(port, fast)
        try:
            assert await tables().probes[name](ctx) == Outcome.NEGATIVE
        finally:
            ctx.abort_all()
    assert ctx.result.service is None


@pytest.mark.parametrize("name", NEW_PROBES)
async def test_probe_against_flood(fast: GrabOptions, name: str) -> None:
    """A server that sends endlessly: reads stop at the cap, memory stays bounded."""

    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        chunk = b"\x30\x84\x00\x10\x00\x00" + b"A" * 65530
        for _ in range(1600):  # up to ~100 MB if nobody stops reading
            w.write(chunk)
            await w.drain()

    async with serve(flood, "127.20.250.70") as port:
        ctx = _ctx(port, fast)
        try:
            assert await tables().probes[name](ctx) in (Outcome.NEGATIVE, Outcome.SILENT)
        finally:
            ctx.abort_all()
    assert all(len(v) <= fast.max_bytes for v in ctx.result.responses.values())
