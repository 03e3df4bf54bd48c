import asyncio
import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.zookeeper import parse_srvr, srvr_complete
from netatlas.model import Endpoint

from .conftest import serve

SRVR = (
    b"Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on "
    b"2022-02-25 08:49 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 3\nSent: 2\n"
    b"Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"
)
REFUSED = b"srvr is not executed because it is not in the whitelist.\n"


def test_parse_srvr() -> None:
    s = parse_srvr(SRVR)
    assert s["version"] == "3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f"
    assert s["build_date"] == "2022-02-25 08:49 UTC"
    assert s["mode"] == "standalone" and s["node_count"] == 5 and s["zxid"] == "0x0"
    assert parse_srvr(REFUSED) == {"srvr_allowed": False}
    assert srvr_complete(SRVR) and srvr_complete(REFUSED) and not srvr_complete(SRVR[:50])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz(data: bytes) -> None:
    srvr_complete(data)
    for d in (data, b"Zookeeper version: " + data, SRVR[:80] + data):
        with contextlib.suppress(ProtocolError):
            parse_srvr(d)


async def test_live_fake_zookeeper(fast: GrabOptions) -> None:
    async def zk(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        word = await r.read(4)
        if word == b"srvr":
            w.write(SRVR)
        elif word in (b"stat", b"ruok"):
            w.write(word + REFUSED[4:])
        await w.drain()  # anything else: an absurd length, ZooKeeper hangs up

    async with serve(zk, "127.20.250.68") as port:
        res = await grab_endpoint(Endpoint("127.20.250.68", port), fast)
    assert res.status == "success", res.error
    assert res.service == "zookeeper" and res.sections["zookeeper"]["mode"] == "standalone"
