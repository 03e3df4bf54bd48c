"""ONC RPC portmapper (rpcbind) grabber, TCP and UDP: PMAPPROC_DUMP (RFC 1833 section
3.2), the registered programs, as ``rpcinfo -p`` asks. When NFS's mount daemon is among
them, MOUNTPROC_EXPORT (RFC 1813 Appendix I section 5.2.5; RFC 1094 A.5.6 for v1) on the
port the portmapper gave for it, on the same address: the export list, as
``showmount -e`` asks. Both are read-only; nothing is mounted."""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Any

from ..codecs.oncrpc import (
    Xdr,
    call,
    record,
    record_complete,
    reply_result,
    unrecord,
)
from ..engine.conn import connect
from ..engine.context import GrabContext, Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.options import GrabOptions
from ..engine.registry import Protocol

PMAP_PROG, PMAP_VERS, PMAPPROC_DUMP = 100000, 2, 4
MOUNT_PROG, MOUNTPROC_EXPORT = 100005, 5
MAX_REPLY = 64 * 1024
MAX_MAPPINGS = 256
MAX_EXPORTS = 64
MAX_GROUPS = 32
MNTPATHLEN, MNTNAMLEN = 1024, 255  # RFC 1813 Appendix I section 5.1
_IPPROTO = {6: "tcp", 17: "udp"}
# Well-known program numbers (rpcbind's /etc/rpc and IANA's ONC RPC registry).
PROGRAM_NAMES = {
    100000: "portmapper", 100001: "rstatd", 100002: "rusersd", 100003: "nfs",
    100004: "ypserv", 100005: "mountd", 100007: "ypbind", 100008: "walld",
    100009: "yppasswdd", 100011: "rquotad", 100012: "sprayd", 100021: "nlockmgr",
    100024: "status", 100026: "bootparam", 100068: "cmsd", 100083: "ttdbserverd",
    100133: "nsm_addrand", 100227: "nfs_acl", 100232: "sadmind", 150001: "pcnfsd",
    300019: "amd", 391002: "sgi_fam", 395650: "gssd",
}


def dump_call(xid: int) -> bytes:
    return call(xid, PMAP_PROG, PMAP_VERS, PMAPPROC_DUMP)


def parse_dump(result: bytes) -> list[dict[str, Any]]:
    """``pmaplist`` (RFC 1833 section 3.1): value-follows, {prog, vers, prot, port}..."""
    r = Xdr(result)
    out: list[dict[str, Any]] = []
    while r.boolean():
        prog, vers, prot, port = r.uint(), r.uint(), r.uint(), r.uint()
        if port > 65535:
            raise ProtocolError(f"portmapper mapping with port {port}")
        out.append({"program": prog, "name": PROGRAM_NAMES.get(prog, str(prog)),
                    "version": vers, "protocol": _IPPROTO.get(prot, str(prot)),
                    "port": port})
        if len(out) >= MAX_MAPPINGS:
            break
    return out


def parse_exports(result: bytes) -> list[dict[str, Any]]:
    """``exports`` (RFC 1813 Appendix I 5.2.5): value-follows, ex_dir, ex_groups (a list
    of client names, empty: everyone), ...; lists and strings are capped."""
    r = Xdr(result)
    out: list[dict[str, Any]] = []
    while r.boolean() and len(out) < MAX_EXPORTS:
        path = r.string(MNTPATHLEN)
        groups: list[str] = []
        while r.boolean():
            name = r.string(MNTNAMLEN)
            if len(groups) < MAX_GROUPS:
                groups.append(name)
        out.append({"dir": path[:MNTPATHLEN], "groups": groups,
                    "everyone": not groups or any(g in ("*", "(everyone)") for g in groups)})
    return out


def summary(section: dict[str, Any]) -> bytes:
    """``rpcinfo -p``-like lines kept as the banner, then the exports."""
    lines = [f"{m['program']} {m['version']} {m['protocol']} {m['port']} {m['name']}"
             for m in section["programs"]]
    lines += [f"export {e['dir']} {' '.join(e['groups']) or '(everyone)'}"
              for e in section.get("exports", [])]
    return "\n".join(lines).encode("utf-8", "replace")


def _section(mappings: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({m["name"] for m in mappings})
    return {"programs": mappings, "program_names": names}


def _mountd(mappings: list[dict[str, Any]]) -> tuple[str, int, int] | None:
    """(protocol, port, version) of mountd, TCP and the highest version preferred."""
    found = [(m["protocol"] == "tcp", m["version"], m["protocol"], m["port"])
             for m in mappings if m["program"] == MOUNT_PROG and m["version"] in (1, 3)
             and m["protocol"] in ("tcp", "udp") and 0 < m["port"] < 65536]
    if not found:
        return None
    _, vers, proto, port = max(found)
    return proto, port, vers


async def _export_tcp(ip: str, port: int, vers: int, opts: GrabOptions) -> bytes:
    if opts.limiter is not None:
        await opts.limiter.wait()
    conn = await connect(ip, port, opts.connect_timeout, limit=opts.max_bytes)
    try:
        xid = int.from_bytes(os.urandom(4), "big")
        await conn.write(record(call(xid, MOUNT_PROG, vers, MOUNTPROC_EXPORT)),
                         opts.read_timeout)
        buf = await conn.read_until_done(record_complete, min(MAX_REPLY, opts.max_bytes),
                                         opts.read_timeout)
    finally:
        await conn.close()
    msg = unrecord(buf, MAX_REPLY)
    if msg is None:
        raise ProtocolError("mountd reply cut short")
    return reply_result(msg, xid)


async def _export_udp(ip: str, port: int, vers: int, opts: GrabOptions) -> bytes:
    xid = int.from_bytes(os.urandom(4), "big")
    async with Datagram(ip, port) as d:
        reply = await d.request(call(xid, MOUNT_PROG, vers, MOUNTPROC_EXPORT),
                                opts.read_timeout, MAX_REPLY,
                                lambda b: b[:4] == xid.to_bytes(4, "big"))
    if reply is None:
        raise TimeoutError
    return reply_result(reply, xid)


async def add_exports(ip: str, section: dict[str, Any], opts: GrabOptions) -> None:
    """Ask the mount daemon the portmapper named for its export list; the outcome (the
    list, or why there is none) goes into ``section``."""
    where = _mountd(section["programs"])
    if where is None:
        return
    proto, port, vers = where
    if not opts.port_allowed(port, proto):
        section["exports_error"] = f"mountd {proto}/{port}: excluded from the scan, not asked"
        return
    ask = _export_tcp if proto == "tcp" else _export_udp
    try:
        section["exports"] = parse_exports(await ask(ip, port, vers, opts))
        section["mountd"] = {"protocol": proto, "port": port, "version": vers}
    except (TimeoutError, ConnectionError, OSError, ssl.SSLError) as e:
        section["exports_error"] = f"mountd {proto}/{port}: {type(e).__name__}"
    except ProtocolError as e:
        section["exports_error"] = f"mountd {proto}/{port}: {e}"[:200]


async def probe(ctx: GrabContext) -> str:
    xid = int.from_bytes(os.urandom(4), "big")
    reply = await exchange(ctx, record(dump_call(xid)), record_complete, MAX_REPLY)
    if isinstance(reply, str):
        return reply
    try:
        msg = unrecord(reply, MAX_REPLY)
        if msg is None:
            return Outcome.NEGATIVE
        mappings = parse_dump(reply_result(msg, xid))
    except ProtocolError:
        return Outcome.NEGATIVE
    res = ctx.result
    res.service = "rpcbind"
    res.responses["RPCCheck"] = reply[: ctx.opts.max_bytes]
    section = res.sections["portmap"] = _section(mappings)
    with contextlib.suppress(TimeoutError):
        await add_exports(ctx.ep.ip, section, ctx.opts)
    res.data = summary(section)[: ctx.opts.max_bytes]
    return Outcome.POSITIVE


async def udp_probe(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    xid = int.from_bytes(os.urandom(4), "big")
    async with Datagram(ip, port) as d:
        reply = await d.request(dump_call(xid), opts.read_timeout, MAX_REPLY,
                                lambda b: b[:4] == xid.to_bytes(4, "big"))
    if reply is None:
        return Outcome.SILENT
    try:
        mappings = parse_dump(reply_result(reply, xid))
    except ProtocolError:
        return Outcome.NEGATIVE
    result.service = "rpcbind"
    section = result.sections["portmap"] = _section(mappings)
    await add_exports(ip, section, opts)
    result.data = summary(section)[: opts.max_bytes]
    return Outcome.POSITIVE


def discovery_payload(rid: int) -> tuple[bytes, ...]:
    return (dump_call(rid & 0xFFFFFFFF),)


# rpcbind waits for a whole record: our other probes' bytes read as a record mark of
# gigabytes and meet silence, so only its port (or nmap's RPCCheck naming "rpcbind")
# brings this probe.
PROTOCOL = Protocol(name="portmap", ports=(111,), probe=probe, nmap_names=("rpcbind",),
                    udp_ports=(111,), udp_probe=udp_probe, udp_payloads=discovery_payload)
