"""S7 on a busy event loop (issue 15 #13: in the lab precision test, an S7 PLC grabbed
alongside the other 63 services got no finding; grabbed alone it did).

The reply deadlines are kept by the scanner's own event loop. When that loop is busy for
longer than the read time-out (the other grabs identifying, hashing, matching nmap's
patterns on a loaded machine), the PLC's reply arrives in the socket during the stall,
but asyncio runs the expired deadline right after delivering it, and the read raised
TimeoutError with the reply sitting unread: the setup ack "timed out", ``s7comm`` was
False, and ics-s7-exposed was not raised. The PLC here is a real socket server in its
own thread, so it answers while the scanner's loop is stalled."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from netatlas.grab import GrabOptions
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.protocols.s7 import probe
from netatlas.model import Endpoint, GrabResult

from .test_s7 import CC, SETUP_ACK, SZL_1C, SZL_11

HOST = "127.20.15.212"
OPTS = GrabOptions(banner_wait=0.3, read_timeout=0.5, connect_timeout=1.0, total_timeout=8.0)


def _recv_frame(sock: socket.socket) -> bytes:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return b""
        head += chunk
    body = b""
    want = int.from_bytes(head[2:4], "big") - 4
    while len(body) < want:
        chunk = sock.recv(want - len(body))
        if not chunk:
            return b""
        body += chunk
    return head + body


@contextmanager
def threaded_plc(on_request: Callable[[bytes], None], answer_jobs: bool = True
                 ) -> Iterator[int]:
    """A PLC answering python-snap7's captured frames at once, from its own thread;
    ``on_request`` is called with each request before it is answered. Without
    ``answer_jobs`` it confirms COTP connections and never answers an S7 job."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    assert port != 2024
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    while req := _recv_frame(conn):
                        on_request(req)
                        if req[5] == 0xE0:
                            conn.sendall(CC)
                        elif not answer_jobs:
                            continue
                        elif req[8] == 0x01:
                            conn.sendall(SETUP_ACK)
                        else:
                            conn.sendall(SZL_11 if req[-4:-2] == b"\x00\x11" else SZL_1C)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        listener.close()


async def test_a_reply_that_came_while_the_loop_was_busy_is_read() -> None:
    loop = asyncio.get_running_loop()
    stalls: list[str] = []

    busy = threading.Event()

    def stall() -> None:  # the scanner's loop busy for twice the read time-out
        busy.set()
        time.sleep(OPTS.read_timeout * 2)

    def on_request(req: bytes) -> None:
        # every S7 job (setup, SZL reads): the PLC answers once the loop is busy
        if req[5] == 0xF0:
            stalls.append(req[8:9].hex())
            busy.clear()
            loop.call_soon_threadsafe(stall)
            assert busy.wait(5)

    with threaded_plc(on_request) as port:
        ctx = GrabContext(ep=Endpoint(HOST, port), opts=OPTS, result=GrabResult())
        assert await probe(ctx) == Outcome.POSITIVE
    s7 = ctx.result.sections["s7"]
    assert stalls == ["01", "07", "07"]  # setup, two SZL reads: each answered in a stall
    assert s7["s7comm"] is True, s7
    assert "szl_errors" not in s7, s7
    assert s7["module_type"] == "CPU 315-2 PN/DP" and s7["order_code"].startswith("6ES7")
    assert s7["dst_tsap"] == "0x0102"  # the first TSAP pair, not a retry on the second


async def test_a_silent_plc_is_still_silent() -> None:
    """The second look takes only what arrived: a PLC that never answers the setup is
    still COTP-only (iso-tsap, no S7comm) on both TSAP pairs."""
    setups: list[bytes] = []
    with threaded_plc(setups.append, answer_jobs=False) as port:
        ctx = GrabContext(ep=Endpoint(HOST, port), opts=OPTS, result=GrabResult())
        assert await probe(ctx) == Outcome.POSITIVE
    assert ctx.result.service == "iso-tsap"
    assert ctx.result.sections["s7"]["s7comm"] is False
    assert [r[5] for r in setups] == [0xE0, 0xF0, 0xE0, 0xF0]  # both pairs, one setup each
