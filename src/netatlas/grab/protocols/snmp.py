"""SNMP grabber (UDP): read-only identification, no guessing beyond one community.

Two requests, as nmap's SNMP probes do: an SNMPv3 engine-discovery GET (no user, no
credentials; an agent answers with a usmStats Report carrying its engine ID, boots and
time, whose enterprise number names the vendor), and one v2c GET with community
``public`` for the system group and UCD-SNMP-MIB versionTag (v1 when v2c is silent).
Whether ``public`` was accepted is recorded: an agent drops a wrong community silently.
Messages are built and parsed here (sans-IO, ``ber``); sockets live in ``dgram``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..codecs import ber
from ..engine.context import Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.options import GrabOptions
from ..engine.registry import Protocol

COMMUNITY = "public"
GET, RESPONSE, REPORT = 0xA0, 0xA2, 0xA8
V1, V2C, V3 = 0, 1, 3
MAX_MSG = 8192  # a reply to our few varbinds is far smaller; more is truncated away

# name -> OID (instance .0) read with one GET
SYSTEM_OIDS: dict[str, str] = {
    "sys_descr": "1.3.6.1.2.1.1.1.0",
    "sys_object_id": "1.3.6.1.2.1.1.2.0",
    "sys_uptime": "1.3.6.1.2.1.1.3.0",
    "sys_contact": "1.3.6.1.2.1.1.4.0",
    "sys_name": "1.3.6.1.2.1.1.5.0",
    "sys_location": "1.3.6.1.2.1.1.6.0",
}
VERSION_TAG_OID = "1.3.6.1.4.1.2021.100.2.0"  # UCD-SNMP-MIB::versionTag (Net-SNMP)
USM_STATS = "1.3.6.1.6.3.15.1.1."  # usmStats*: the Report to a discovery request
# IANA enterprise numbers commonly seen in engine IDs (the rest stay numeric)
ENTERPRISES: dict[int, str] = {
    2: "IBM", 9: "Cisco", 11: "HP", 43: "3Com", 171: "D-Link", 311: "Microsoft",
    674: "Dell", 1991: "Brocade", 2011: "Huawei", 2021: "UCD-SNMP", 2636: "Juniper",
    4413: "Broadcom", 4526: "Netgear", 6876: "VMware", 8072: "Net-SNMP",
    12356: "Fortinet", 14988: "MikroTik", 25461: "Palo Alto Networks", 41112: "Ubiquiti",
}


def _request_id() -> int:
    return int.from_bytes(os.urandom(3), "big") + 1


# -- messages ------------------------------------------------------------------------------

def get_request(oids: list[str], request_id: int, version: int = V2C,
                community: str = COMMUNITY) -> bytes:
    """A v1/v2c GetRequest for ``oids`` (values NULL)."""
    binds = ber.seq(*(ber.seq(ber.oid(o), ber.null()) for o in oids))
    pdu = ber.seq(ber.integer(request_id), ber.integer(0), ber.integer(0), binds, tag=GET)
    return ber.seq(ber.integer(version), ber.octets(community), pdu)


def discovery_request(msg_id: int, request_id: int) -> bytes:
    """An SNMPv3 GET with an empty engine ID and user, flags reportable, noAuthNoPriv
    (RFC 3414 section 4): the agent answers with a Report naming its engine."""
    usm = ber.seq(ber.octets(b""), ber.integer(0), ber.integer(0), ber.octets(b""),
                  ber.octets(b""), ber.octets(b""))
    header = ber.seq(ber.integer(msg_id), ber.integer(65507), ber.octets(b"\x04"),
                     ber.integer(3))
    pdu = ber.seq(ber.integer(request_id), ber.integer(0), ber.integer(0), ber.seq(),
                  tag=GET)
    scoped = ber.seq(ber.octets(b""), ber.octets(b""), pdu)
    return ber.seq(ber.integer(V3), header, ber.octets(usm), scoped)


# -- parsing -------------------------------------------------------------------------------

def _top(msg: bytes) -> list[ber.TLV]:
    outer, end = ber.read_tlv(msg)
    ber.expect(outer, ber.SEQUENCE, "message")
    if end != len(msg):
        raise ProtocolError("SNMP: bytes after the message")
    return ber.children(outer.value)


def _pdu(item: ber.TLV, request_id: int | None) -> tuple[int, int, int, list[tuple[str, Any]]]:
    """(pdu tag, error status, error index, [(oid, value)]) of a Response/Report PDU."""
    if item.tag not in (RESPONSE, REPORT):
        raise ProtocolError(f"SNMP: PDU type 0x{item.tag:02x} is not a response")
    parts = ber.children(item.value)
    if len(parts) != 4:
        raise ProtocolError("SNMP: PDU has the wrong number of fields")
    rid = ber.as_int(ber.expect(parts[0], ber.INTEGER, "request-id"))
    if request_id is not None and rid != request_id:
        raise ProtocolError("SNMP: request-id does not match")
    status = ber.as_int(ber.expect(parts[1], ber.INTEGER, "error-status"))
    index = ber.as_int(ber.expect(parts[2], ber.INTEGER, "error-index"))
    binds: list[tuple[str, Any]] = []
    for vb in ber.children(ber.expect(parts[3], ber.SEQUENCE, "varbinds").value):
        pair = ber.children(ber.expect(vb, ber.SEQUENCE, "varbind").value)
        if len(pair) != 2:
            raise ProtocolError("SNMP: malformed varbind")
        binds.append((ber.as_oid(ber.expect(pair[0], ber.OID, "name")), ber.value_of(pair[1])))
    return item.tag, status, index, binds


def parse_response(msg: bytes, request_id: int | None = None) -> dict[str, Any]:
    """A v1/v2c Response -> {version, community, error_status, values: {oid: value}}."""
    top = _top(msg)
    if len(top) != 3:
        raise ProtocolError("SNMP: not a v1/v2c message")
    version = ber.as_int(ber.expect(top[0], ber.INTEGER, "version"))
    if version not in (V1, V2C):
        raise ProtocolError(f"SNMP: version {version} is not v1/v2c")
    community = ber.expect(top[1], ber.OCTET_STRING, "community").value
    tag, status, _index, binds = _pdu(top[2], request_id)
    if tag != RESPONSE:
        raise ProtocolError("SNMP: not a Response PDU")
    return {
        "version": version,
        "community": community.decode("utf-8", "replace")[:64],
        "error_status": status,
        "values": {o: v for o, v in binds},
    }


def parse_engine_id(engine: bytes) -> dict[str, Any]:
    """RFC 3411 SnmpEngineID: enterprise number (high bit set) + format + data."""
    out: dict[str, Any] = {"engine_id": engine.hex()}
    if len(engine) < 5 or not engine[0] & 0x80:
        return out  # the older 12-byte form, or junk: keep the hex only
    enterprise = int.from_bytes(engine[:4], "big") & 0x7FFFFFFF
    fmt, data = engine[4], engine[5:]
    out["engine_enterprise"] = enterprise
    if enterprise in ENTERPRISES:
        out["engine_vendor"] = ENTERPRISES[enterprise]
    out["engine_format"] = {1: "ipv4", 2: "ipv6", 3: "mac", 4: "text", 5: "octets"}.get(
        fmt, "enterprise" if fmt >= 128 else str(fmt))
    if fmt == 1 and len(data) == 4:
        out["engine_ipv4"] = ".".join(map(str, data))
    elif fmt == 3 and len(data) == 6:
        out["engine_mac"] = ":".join(f"{b:02x}" for b in data)
    elif fmt == 4:
        out["engine_text"] = data.decode("utf-8", "replace")[:27]
    return out


def parse_report(msg: bytes, msg_id: int | None = None) -> dict[str, Any]:
    """A v3 Report to a discovery request -> engine ID facts, boots, time."""
    top = _top(msg)
    if len(top) != 4:
        raise ProtocolError("SNMP: not a v3 message")
    if ber.as_int(ber.expect(top[0], ber.INTEGER, "version")) != V3:
        raise ProtocolError("SNMP: not version 3")
    header = ber.children(ber.expect(top[1], ber.SEQUENCE, "msgGlobalData").value)
    if len(header) != 4:
        raise ProtocolError("SNMP: bad msgGlobalData")
    if msg_id is not None and ber.as_int(header[0]) != msg_id:
        raise ProtocolError("SNMP: msgID does not match")
    sec = ber.expect(top[2], ber.OCTET_STRING, "msgSecurityParameters").value
    usm_seq, _ = ber.read_tlv(sec)
    usm = ber.children(ber.expect(usm_seq, ber.SEQUENCE, "UsmSecurityParameters").value)
    if len(usm) != 6:
        raise ProtocolError("SNMP: bad UsmSecurityParameters")
    engine = ber.expect(usm[0], ber.OCTET_STRING, "engine id").value
    out = parse_engine_id(engine)
    out["engine_boots"] = ber.as_int(usm[1]) if usm[1].value else 0
    out["engine_time"] = ber.as_int(usm[2]) if usm[2].value else 0
    scoped = ber.children(ber.expect(top[3], ber.SEQUENCE, "scopedPDU").value)
    if len(scoped) == 3:
        _tag, _st, _ix, binds = _pdu(scoped[2], None)
        reports = [o for o, _ in binds if o.startswith(USM_STATS)]
        if reports:
            out["report_oid"] = reports[0]
    return out


def section_from(values: dict[str, Any]) -> dict[str, Any]:
    """Named system-group facts from a Response's {oid: value}."""
    out: dict[str, Any] = {}
    for name, o in (*SYSTEM_OIDS.items(), ("version_tag", VERSION_TAG_OID)):
        v = values.get(o)
        if v is not None and v != "":
            out[name] = v[:1024] if isinstance(v, str) else v
    return out


def summary(section: dict[str, Any]) -> bytes:
    """The readable banner kept as ``data`` (the raw replies are in ``responses``)."""
    lines = [f"{k}: {section[k]}" for k in (
        "sys_descr", "sys_name", "sys_object_id", "version_tag", "engine_id",
        "engine_vendor") if k in section]
    return "\n".join(lines).encode("utf-8", "replace")


# -- the grab ------------------------------------------------------------------------------

async def _ask(ip: str, port: int, payload: bytes, opts: GrabOptions,
               accept: Any) -> bytes | None:
    async with Datagram(ip, port) as d:
        return await d.request(payload, opts.read_timeout, MAX_MSG, accept)


def _parses(fn: Any, ident: int) -> Any:
    def ok(reply: bytes) -> bool:
        try:
            fn(reply, ident)
        except ProtocolError:
            return False
        return True
    return ok


async def probe(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    msg_id, rid = _request_id(), _request_id()
    oids = [*SYSTEM_OIDS.values(), VERSION_TAG_OID]
    v3_task = _ask(ip, port, discovery_request(msg_id, _request_id()), opts,
                   _parses(parse_report, msg_id))
    v2_task = _ask(ip, port, get_request(oids, rid), opts, _parses(parse_response, rid))
    # both finish (or time out) before anything is raised: no request outlives the grab
    v3_reply, v2_reply = await asyncio.gather(v3_task, v2_task, return_exceptions=True)
    if isinstance(v3_reply, BaseException):
        raise v3_reply
    if isinstance(v2_reply, BaseException):
        raise v2_reply
    section: dict[str, Any] = {}
    versions: list[str] = []
    if v3_reply is not None:
        section.update(parse_report(v3_reply, msg_id))
        versions.append("v3")
        result.responses["SNMPv3GetRequest"] = v3_reply
    reply, version = v2_reply, V2C
    if reply is None and v3_reply is None:
        # a v1-only agent drops v2c (one that answered v3 knows v2c: the community is
        # wrong, not the version); v1 answers noSuchName for the whole PDU if any OID is
        # unknown, so ask for the system group alone
        rid = _request_id()
        reply = await _ask(ip, port, get_request(list(SYSTEM_OIDS.values()), rid, V1), opts,
                           _parses(parse_response, rid))
        version = V1
    if reply is not None:
        parsed = parse_response(reply, rid)
        section.update(section_from(parsed["values"]))
        section["community"] = COMMUNITY
        versions.insert(0, "v2c" if version == V2C else "v1")
        result.responses["SNMPv1public" if version == V1 else "SNMPv2cpublic"] = reply
    if not versions:
        return Outcome.SILENT
    section["versions"] = versions
    section["community_public"] = reply is not None
    result.service = "snmp"
    result.sections["snmp"] = section
    result.data = summary(section)
    return Outcome.POSITIVE


def discovery_payloads(rid: int) -> tuple[bytes, ...]:
    """v2c ``public`` GET sysDescr, and the SNMPv3 engine-discovery request."""
    return (get_request([SYSTEM_OIDS["sys_descr"]], rid + 2), discovery_request(rid, rid + 1))


PROTOCOL = Protocol(name="snmp", udp_ports=(161,), udp_probe=probe,
                    udp_payloads=discovery_payloads,
                    udp_generic=lambda rid: discovery_request(rid, rid + 1))
