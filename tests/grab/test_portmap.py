"""ONC RPC portmapper and NFS export list: the parsers on replies built from the RFCs
(tests/grab/rpc_bytes.py), hostile replies (records and strings that promise more than
comes, endless lists), an in-process portmapper + mountd, and Debian 12's real rpcbind in
a network namespace of its own (it binds port 111 on the wildcard address), with a mount
daemon registered in it. NFS's own mountd needs the kernel's nfsd, which a container does
not have: the export list always comes from rpc_bytes.serve_mountd."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import struct
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs.oncrpc import Xdr, record_complete, reply_result, unrecord
from netatlas.grab.engine.context import GrabContext, Outcome
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import portmap
from netatlas.grab.protocols.portmap import dump_call, parse_dump, parse_exports
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult, Observation
from netatlas.scope import excluded_check

from . import rpc_bytes as rb
from .conftest import serve
from .sharing_servers import in_netns, rpcbind_netns

IP = "127.20.250.83"
NFS_SERVER = [(100000, 2, 6, 111), (100000, 2, 17, 111), (100003, 3, 6, 2049),
              (100005, 3, 6, 0), (100021, 4, 17, 40001)]  # mountd's port filled in


def test_dump_call_is_rfc_1833s() -> None:
    # xid, CALL, rpcvers 2, PMAP_PROG, v2, PMAPPROC_DUMP, AUTH_NULL cred and verf
    assert dump_call(7) == rb.u32(7, 0, 2, 100000, 2, 4, 0, 0, 0, 0)


def test_parse_dump() -> None:
    msg = rb.accepted_reply(9, rb.pmaplist(NFS_SERVER))
    got = parse_dump(reply_result(msg, 9))
    assert [(m["name"], m["version"], m["protocol"], m["port"]) for m in got] == [
        ("portmapper", 2, "tcp", 111), ("portmapper", 2, "udp", 111), ("nfs", 3, "tcp", 2049),
        ("mountd", 3, "tcp", 0), ("nlockmgr", 4, "udp", 40001)]
    assert parse_dump(rb.u32(1, 123456, 1, 99, 5, 0))[0] == {
        "program": 123456, "name": "123456", "version": 1, "protocol": "99", "port": 5}
    with pytest.raises(ProtocolError):
        reply_result(msg, 10)  # another call's reply
    with pytest.raises(ProtocolError, match="prog_unavail"):
        reply_result(rb.u32(9, 1, 0, 0, 0, 1), 9)
    with pytest.raises(ProtocolError, match="denied"):
        reply_result(rb.u32(9, 1, 1, 0, 0), 9)


def test_parse_exports() -> None:
    got = parse_exports(rb.exports([*rb.EXPORTS, ("/empty", [])]))
    assert got == [
        {"dir": "/srv/share", "groups": ["*"], "everyone": True},
        {"dir": "/home", "groups": ["10.0.0.0/8", "admin.lab"], "everyone": False},
        {"dir": "/empty", "groups": [], "everyone": True},  # no client list: everyone
    ]
    assert parse_exports(rb.exports([])) == []


def test_record_marking() -> None:
    msg = b"x" * 10
    assert unrecord(rb.record(msg)) == msg
    two = rb.u32(4) + b"abcd" + rb.u32(0x8000_0002) + b"ef"  # two fragments, RFC 5531 s.11
    assert unrecord(two) == b"abcdef" and record_complete(two)
    assert unrecord(two[:-1]) is None and not record_complete(two[:-1])


def test_hostile_rpc() -> None:
    with pytest.raises(ProtocolError):
        unrecord(rb.u32(0xFFFF_FFFF))  # a 2 GB fragment
    assert record_complete(rb.u32(0x7FFF_FFFF))  # stop reading: refused
    with pytest.raises(ProtocolError):
        parse_exports(rb.u32(1, 0xFFFF_FFF0))  # a 4 GB path
    with pytest.raises(ProtocolError):
        parse_exports(rb.u32(1, 2000) + b"/" * 2000)  # longer than MNTPATHLEN
    with pytest.raises(ProtocolError):
        parse_exports(rb.u32(1) + rb.xdr_string("/x") + rb.u32(1, 300) + b"h" * 300)
    with pytest.raises(ProtocolError):
        parse_dump(rb.u32(1, 100000, 2, 6))  # cut short
    with pytest.raises(ProtocolError):
        parse_dump(rb.u32(1, 100000, 2, 6, 70000, 0))  # no such port
    with pytest.raises(ProtocolError):
        Xdr(rb.u32(7)).boolean()
    many = rb.pmaplist([(100000 + i, 1, 6, 1000) for i in range(5000)])
    assert len(parse_dump(many)) == 256
    groups = b"".join(rb.u32(1) + rb.xdr_string("h") for _ in range(500)) + rb.u32(0)
    lots = (rb.u32(1) + rb.xdr_string("/a") + groups) * 100 + rb.u32(0)
    got = parse_exports(lots)
    assert len(got) == 64 and all(len(e["groups"]) == 32 for e in got)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz(data: bytes) -> None:
    for parse in (parse_dump, parse_exports):
        with contextlib.suppress(ProtocolError):
            parse(data)
        with contextlib.suppress(ProtocolError):
            parse(rb.u32(1) + data)
    with contextlib.suppress(ProtocolError):
        reply_result(rb.u32(1, 1, 0, 0) + data, 1)
    record_complete(data)


@contextlib.asynccontextmanager
async def nfs_server(exports: list[tuple[str, list[str]]] | None,
                     ) -> AsyncIterator[int]:
    """A portmapper (TCP) listing an NFS server's programs, and its mountd on another
    port of the same address answering EXPORT; None: no mountd registered."""
    mountd = await rb.serve_mountd(IP, exports or [])
    mport = mountd.sockets[0].getsockname()[1]
    mappings = [m if m[0] != 100005 else (*m[:3], mport) for m in NFS_SERVER
                if exports is not None or m[0] != 100005]

    async def portmapper(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        mark = struct.unpack(">I", await r.readexactly(4))[0]
        call = await r.readexactly(mark & 0x7FFF_FFFF)
        w.write(rb.record(rb.accepted_reply(struct.unpack_from(">I", call)[0],
                                            rb.pmaplist(mappings))))
        await w.drain()

    try:
        async with serve(portmapper, IP) as port:
            yield port
    finally:
        mountd.close()


def _obs(ep: Endpoint, res: Any) -> Observation:
    return Observation.build(ep, "t", res, Identifier().identify(res, ep))


async def test_portmapper_with_nfs_exports(fast: GrabOptions) -> None:
    async with nfs_server(rb.EXPORTS) as port:
        ep = Endpoint(IP, port)
        outcome, res = await _probe(port, fast)
    assert outcome == Outcome.POSITIVE
    p = res.sections["portmap"]
    assert res.service == "rpcbind" and p["program_names"] == [
        "mountd", "nfs", "nlockmgr", "portmapper"]
    assert p["exports"][0] == {"dir": "/srv/share", "groups": ["*"], "everyone": True}
    obs = _obs(ep, res)
    assert obs.product == "rpcbind" and "nfs" in obs.tags
    found = {f.id: f for f in assess(obs)}
    assert set(found) == {"nfs-exports-open", "rpc-programs-listed"}
    assert "open to every host: '/srv/share'" in found["nfs-exports-open"].evidence
    assert found["rpc-programs-listed"].severity == "info"


async def test_portmapper_with_nothing_exported(fast: GrabOptions) -> None:
    async with nfs_server([]) as port:
        ep = Endpoint(IP, port)
        _, res = await _probe(port, fast)
    assert res.sections["portmap"]["exports"] == []
    assert {f.id for f in assess(_obs(ep, res))} == {"rpc-programs-listed"}


async def test_hostile_portmapper_is_bounded(fast: GrabOptions) -> None:
    """A record mark promising 2 GB, then bytes forever."""
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(100)
        w.write(rb.u32(0xFFFF_FFFF))
        while True:
            w.write(b"\x00\x00\x00\x01" * 16384)
            await w.drain()
            await asyncio.sleep(0.001)

    async with serve(endless, IP) as port:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        outcome, res = await _probe(port, fast)
        assert loop.time() - t0 < fast.read_timeout + 2
        assert outcome == Outcome.NEGATIVE and "portmap" not in res.sections
        res2 = await grab_endpoint(Endpoint(IP, port), fast)  # and detection on a free port
        assert loop.time() - t0 < fast.read_timeout + fast.total_timeout + 4
    assert "portmap" not in res2.sections


async def _probe(port: int, opts: GrabOptions) -> tuple[str, GrabResult]:
    """The portmapper probe itself: the in-process servers sit on a free port, not 111
    (detection on 111 is the real rpcbind's test below)."""
    ctx = GrabContext(Endpoint(IP, port), opts, GrabResult())
    try:
        return await portmap.probe(ctx), ctx.result
    finally:
        ctx.abort_all()


def test_real_rpcbind_in_its_own_namespace(tmp_path: Path) -> None:
    with rpcbind_netns() as pid:
        out = json.loads(in_netns(pid, [sys.executable, str(Path(rb.__file__)), IP]))
    bare, tcp, udp = out["bare"], out["tcp"], out["udp"]
    assert out["registered"] is True
    assert bare["service"] == "rpcbind"
    assert bare["sections"]["portmap"]["program_names"] == ["portmapper"]
    assert {(m["version"], m["protocol"]) for m in bare["sections"]["portmap"]["programs"]
            } >= {(2, "tcp"), (2, "udp"), (3, "tcp"), (4, "udp")}
    for seen in (tcp, udp):
        p = seen["sections"]["portmap"]
        assert seen["service"] == "rpcbind" and "mountd" in p["program_names"]
        assert p["exports"] == [
            {"dir": "/srv/share", "groups": ["*"], "everyone": True},
            {"dir": "/home", "groups": ["10.0.0.0/8", "admin.lab"], "everyone": False}]

    def findings(seen: dict[str, Any], transport: str) -> set[str]:
        o = Observation(ip=IP, port=111, transport=transport, timestamp=datetime.now(UTC),
                        scan_id="t", service=seen["service"], sections=seen["sections"])
        return {f.id for f in assess(o)}

    assert findings(bare, "tcp") == {"rpc-programs-listed"}
    assert findings(tcp, "tcp") == {"rpc-programs-listed", "nfs-exports-open"}
    assert findings(udp, "udp") == {"rpc-programs-listed", "nfs-exports-open"}


async def test_a_mountd_on_an_excluded_port_is_not_asked(fast: GrabOptions) -> None:
    """The portmapper names mountd's port; a port the scan excluded (--exclude-ports)
    is never contacted, whatever the portmapper says."""
    asked: list[tuple[int, str]] = []

    def refuse_all(port: int, transport: str) -> bool:
        asked.append((port, transport))
        return False

    async with nfs_server(rb.EXPORTS) as port:
        _, res = await _probe(port, dataclasses.replace(fast, port_allowed=refuse_all))
    p = res.sections["portmap"]
    assert "exports" not in p and "excluded from the scan" in p["exports_error"]
    assert len(asked) == 1 and asked[0][1] == "tcp"


def test_excluded_ports_check() -> None:
    allowed = excluded_check("2024,U:161,T:8000-8001")
    assert not allowed(2024, "tcp") and not allowed(2024, "udp")
    assert not allowed(161, "udp") and allowed(161, "tcp")
    assert not allowed(8001, "tcp") and allowed(8001, "udp") and allowed(111, "tcp")
    assert excluded_check(None)(2024, "tcp")
