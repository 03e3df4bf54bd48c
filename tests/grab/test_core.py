"""grab_endpoint against hostile servers: every grab ends in time, memory stays bounded,
nothing escapes, and the status word says what happened."""

import asyncio
import gzip
import socket
import time

import psutil
import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.model import STATUSES, Endpoint, banner_text

from .conftest import serve


async def timed(ep: Endpoint, opts: GrabOptions):  # type: ignore[no-untyped-def]
    t = time.monotonic()
    res = await grab_endpoint(ep, opts)
    took = time.monotonic() - t
    assert res.status in STATUSES
    assert len(res.data) <= opts.max_bytes
    assert all(len(v) <= opts.max_bytes for v in res.responses.values())
    return res, took


async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def test_tarpit_gives_up_after_silences(fast: GrabOptions) -> None:
    async with serve(tarpit, "127.20.250.50") as port:
        res, _ = await timed(Endpoint("127.20.250.50", port), fast)
    # it gave up on the silences by itself: trying every probe in the list would have
    # run into total_timeout, which says so in the error instead
    assert res.status == "io-timeout" and res.error == "no response to any probe"


async def test_total_timeout_is_a_hard_bound(fast: GrabOptions) -> None:
    fast.total_timeout = 1.0
    async with serve(tarpit, "127.20.250.50") as port:
        res, _ = await timed(Endpoint("127.20.250.50", port), fast)
    assert res.status == "io-timeout" and "total_timeout" in (res.error or "")


async def test_drip_feeder_one_byte_per_second(fast: GrabOptions) -> None:
    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        for b in b"SSH-2.0-" + b"A" * 10_000:
            w.write(bytes([b]))
            await w.drain()
            await asyncio.sleep(1.0)

    fast.total_timeout = 4.0
    async with serve(drip, "127.20.250.51") as port:
        res, _ = await timed(Endpoint("127.20.250.51", port), fast)
    assert res.data and len(res.data) < 10


async def test_fast_drip_of_endless_ssh_line(fast: GrabOptions) -> None:
    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"SSH-2.0-")
        while True:
            w.write(b"A")
            await w.drain()
            await asyncio.sleep(0.01)

    async with serve(drip, "127.20.250.51") as port:
        res, _ = await timed(Endpoint("127.20.250.51", port), fast)
    assert res.status == "protocol-error" and res.service == "ssh"


async def test_flood_of_100_mb_keeps_memory_bounded(fast: GrabOptions) -> None:
    chunk = b"A" * 65536

    async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        for _ in range(100 * 16):  # 100 MiB
            w.write(chunk)
            await w.drain()

    proc = psutil.Process()
    before = proc.memory_info().rss
    async with serve(flood, "127.20.250.52") as port:
        res, _ = await timed(Endpoint("127.20.250.52", port), fast)
    grew = proc.memory_info().rss - before
    assert res.status == "success" and res.service is None
    assert res.data == b"A" * fast.max_bytes
    assert grew < 40 * 1024 * 1024, f"RSS grew {grew / 1e6:.0f} MB"


async def test_http_body_flood_and_header_flood(fast: GrabOptions) -> None:
    async def big_body(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
        for _ in range(1600):
            w.write(b"<" * 65536)
            await w.drain()

    async with serve(big_body, "127.20.250.53") as port:
        res, _ = await timed(Endpoint("127.20.250.53", port), fast)
    h = res.sections["http"]
    assert res.status == "success" and h["truncated"] is True
    assert h["body_length"] == fast.max_body and len(h["html"]) == 16 * 1024

    async def endless_headers(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\n")
        while True:
            w.write(b"X-Pad: " + b"p" * 1000 + b"\r\n")
            await w.drain()

    async with serve(endless_headers, "127.20.250.53") as port:
        res, _ = await timed(Endpoint("127.20.250.53", port), fast)
    assert res.service == "http"


async def test_gzip_bomb_is_bounded(fast: GrabOptions) -> None:
    bomb = gzip.compress(b"<p>" * 20_000_000)  # 60 MB of HTML in ~60 KB

    async def bomber(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
            + bomb
        )
        await w.drain()

    async with serve(bomber, "127.20.250.54") as port:
        res, _ = await timed(Endpoint("127.20.250.54", port), fast)
    assert res.sections["http"]["body_length"] == fast.max_body


async def test_invalid_utf8_and_nul_bytes_kept_exactly(fast: GrabOptions) -> None:
    garbage = b"\x00\xc3\x28 hello \xff\xfe\x00 world\r\n"

    async def spew(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(garbage)
        await w.drain()
        await asyncio.sleep(3600)

    async with serve(spew, "127.20.250.55") as port:
        res, _ = await timed(Endpoint("127.20.250.55", port), fast)
    assert res.status == "success" and res.service is None
    assert res.data == garbage and res.responses["NULL"] == garbage
    assert "\x00" not in banner_text(res.data)


async def test_garbage_http_headers(fast: GrabOptions) -> None:
    async def bad(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(
            b"HTTP/1.1 200 OK\r\nServer: \xff\x00evil\r\nBad Name: 1\r\n\r\n"
            b"<title>\xc3\x28\x00</title>"
        )
        await w.drain()

    async with serve(bad, "127.20.250.56") as port:
        res, _ = await timed(Endpoint("127.20.250.56", port), fast)
    h = res.sections["http"]
    assert res.status == "success" and h["status"] == 200 and "parse_error" in h
    assert h["title"] == "\ufffd(\x00"


async def test_server_that_hangs_up_at_once(fast: GrabOptions) -> None:
    async def hangup(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        return

    async with serve(hangup, "127.20.250.57") as port:
        res, _ = await timed(Endpoint("127.20.250.57", port), fast)
    assert res.status == "protocol-error"


async def test_connection_refused(fast: GrabOptions) -> None:
    s = socket.socket()
    s.bind(("127.20.250.58", 0))  # reserve a port, never listen on it
    port = s.getsockname()[1]
    try:
        res, _ = await timed(Endpoint("127.20.250.58", port), fast)
    finally:
        s.close()
    assert res.status == "connection-refused"


async def test_connect_timeout_when_backlog_is_full(fast: GrabOptions) -> None:
    lsock = socket.socket()
    lsock.bind(("127.20.250.59", 0))
    lsock.listen(0)  # never accepted: the queue fills and further SYNs are dropped
    port = lsock.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.20.250.59", port))
            fillers.append(c)
        await asyncio.sleep(0.2)
        res, _ = await timed(Endpoint("127.20.250.59", port), fast)
    finally:
        for c in fillers:
            c.close()
        lsock.close()
    if res.status != "connection-timeout":
        pytest.skip(f"kernel accepted despite the full backlog ({res.status})")
    assert "total_timeout" not in (res.error or "")  # the connect deadline ended it


async def test_closed_udp_port_is_refused() -> None:
    # UDP is grabbed over UDP now: nothing bound there, so ICMP port unreachable
    res = await grab_endpoint(Endpoint("127.20.250.60", 53, "udp"), GrabOptions())
    assert res.status == "connection-refused" and not res.sections


async def test_hang_up_once_then_speak_is_retried(fast: GrabOptions) -> None:
    seen = 0

    async def moody(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            return  # like sshd dropping a connection under MaxStartups
        w.write(b"220 (vsFTPd 3.0.3)\r\n")
        while line := await r.readline():
            w.write(b"221 Goodbye.\r\n" if line.startswith(b"QUIT") else b"530 Login\r\n")
            await w.drain()

    async with serve(moody, "127.20.250.61") as port:
        res, _ = await timed(Endpoint("127.20.250.61", port), fast)
    assert res.status == "success" and res.service == "ftp" and seen == 2
