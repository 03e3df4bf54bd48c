"""ONC RPC replies built byte by byte from the RFCs, and a tiny mount daemon that serves
them: NFS's mountd cannot run in a container (it needs the kernel's nfsd), so the export
list comes from here. Also run as a script inside rpcbind's network namespace
(tests/grab/test_portmap.py): it registers this mountd with the real rpcbind (PMAPPROC_SET,
allowed from loopback), grabs rpcbind over TCP and UDP and prints the sections as JSON."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
from collections.abc import Sequence


def u32(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def xdr_string(text: str) -> bytes:
    """RFC 4506 section 4.11: length, bytes, zero padding to a multiple of 4."""
    raw = text.encode()
    return u32(len(raw)) + raw + b"\x00" * (-len(raw) % 4)


def accepted_reply(xid: int, result: bytes) -> bytes:
    """RFC 5531 section 9: REPLY (1), MSG_ACCEPTED (0), AUTH_NULL verifier, SUCCESS (0)."""
    return u32(xid, 1, 0, 0, 0, 0) + result


def pmaplist(mappings: Sequence[tuple[int, int, int, int]]) -> bytes:
    """RFC 1833 section 3.1 ``pmaplist``: TRUE, {prog, vers, prot, port}, ..., FALSE."""
    return b"".join(u32(1, *m) for m in mappings) + u32(0)


def exports(entries: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """RFC 1813 Appendix I section 5.2.5 (MOUNTPROC3_EXPORT; RFC 1094 A.5.6 for v1):
    ``exports`` is an optional-data list of exportnode {dirpath ex_dir; groups ex_groups;
    exports ex_next}, each ``groups`` an optional-data list of names."""
    out = b""
    for path, groups in entries:
        out += u32(1) + xdr_string(path)
        out += b"".join(u32(1) + xdr_string(g) for g in groups) + u32(0)
    return out + u32(0)


def record(message: bytes) -> bytes:
    return u32(0x8000_0000 | len(message)) + message


EXPORTS = [("/srv/share", ["*"]), ("/home", ["10.0.0.0/8", "admin.lab"])]


async def serve_mountd(host: str, entries: Sequence[tuple[str, Sequence[str]]],
                       ) -> asyncio.Server:
    """A mountd over TCP that answers EXPORT (procedure 5) of any version."""
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            mark = struct.unpack(">I", await r.readexactly(4))[0]
            call = await r.readexactly(mark & 0x7FFF_FFFF)
            xid, _mtype, _rpcv, prog, _vers, proc = struct.unpack_from(">6I", call)
            if prog == 100005 and proc == 5:
                w.write(record(accepted_reply(xid, exports(entries))))
            else:  # PROC_UNAVAIL
                w.write(record(u32(xid, 1, 0, 0, 0, 3)))
            await w.drain()
        finally:
            w.close()

    return await asyncio.start_server(handle, host, 0)


def _register(host: str, prog: int, vers: int, prot: int, port: int) -> bool:
    """PMAPPROC_SET (RFC 1833 section 3.2, procedure 1) to rpcbind on 111 over TCP."""
    call = u32(0x5E7, 0, 2, 100000, 2, 1, 0, 0, 0, 0) + u32(prog, vers, prot, port)
    with socket.create_connection((host, 111), 5) as s:
        s.sendall(record(call))
        reply = s.recv(4096)
    return reply[-4:] == u32(1)


async def _main(host: str) -> None:
    from netatlas.grab import GrabOptions, grab_endpoint
    from netatlas.model import Endpoint

    async def grab(transport: str) -> dict[str, object]:
        res = await grab_endpoint(Endpoint(host, 111, transport), GrabOptions())
        return {"status": res.status, "service": res.service, "data": res.data.decode(),
                "sections": res.sections}

    out: dict[str, object] = {"bare": await grab("tcp")}  # rpcbind alone
    server = await serve_mountd(host, EXPORTS)
    port = server.sockets[0].getsockname()[1]
    out["registered"] = _register(host, 100005, 3, 6, port)
    for transport in ("tcp", "udp"):
        out[transport] = await grab(transport)
    server.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
