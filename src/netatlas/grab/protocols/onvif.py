"""ONVIF device discovery (UDP 3702): one WS-Discovery Probe for the type
``dn:NetworkVideoTransmitter``, sent unicast to the address being grabbed (never to
the multicast group 239.255.255.250: only in-scope addresses are contacted). A camera
or video encoder answers ProbeMatches: its service addresses (XAddrs), its scopes
(``onvif://www.onvif.org/name/…``, ``hardware/…``, ``location/…``, profiles) and its
endpoint reference.

Message layouts: WS-Discovery (2005/04, schemas.xmlsoap.org/ws/2005/04/discovery)
sections 5.2 Probe and 5.3 ProbeMatch, over SOAP 1.2 with WS-Addressing (2004/08), as
the ONVIF Core Specification (7.3 Discovery, 7.3.2 scopes) profiles them. The reply
is parsed with the standard library's XML parser after refusing any DTD: SOAP 1.2
forbids one in a message (Part 1, 5), and without one there is no entity to expand
(no billion laughs, no external entity). Sans-IO builder and parser plus the probe.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote

from ..engine.context import Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.options import GrabOptions
from ..engine.registry import Protocol

MAX_MSG = 65507  # the largest UDP payload over IPv4
MAX_ITEMS, MAX_TEXT = 32, 200
ONVIF_SCOPE = "onvif://www.onvif.org/"
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_KEEP = ("name", "hardware", "location", "type", "profile", "mac", "manufacturer")

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" \
xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" \
xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" \
xmlns:dn="http://www.onvif.org/ver10/network/wsdl">\
<e:Header>\
<w:MessageID>{message_id}</w:MessageID>\
<w:To e:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>\
<w:Action e:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe\
</w:Action>\
</e:Header>\
<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>\
</e:Envelope>"""


def message_id(rid: int | None = None) -> str:
    """A urn:uuid MessageID; from the discovery request id when given (reproducible)."""
    if rid is None:
        return f"uuid:{uuid.uuid4()}"
    return f"uuid:{uuid.UUID(int=(0x6E657461746C6173 << 64) | (rid & (2**64 - 1)))}"


def probe_message(mid: str) -> bytes:
    return PROBE.format(message_id=mid).encode()


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _words(el: ET.Element | None) -> list[str]:
    return [w[:MAX_TEXT] for w in _text(el).split()[:MAX_ITEMS]]


def parse_scopes(scopes: list[str]) -> dict[str, list[str]]:
    """``onvif://www.onvif.org/<category>/<value…>`` -> {category: [values]}, the
    values URL-decoded (names carry %20). Categories are lower-cased (Profile, MAC)."""
    out: dict[str, list[str]] = {}
    for scope in scopes:
        if not scope.lower().startswith(ONVIF_SCOPE):
            continue
        category, _, value = scope[len(ONVIF_SCOPE):].partition("/")
        if category and value:
            out.setdefault(category.lower(), []).append(unquote(value)[:MAX_TEXT])
    return out


def parse_probe_matches(msg: bytes, mid: str | None = None) -> dict[str, Any]:
    """A ProbeMatches envelope -> the first match's facts. ``mid``: our MessageID,
    which RelatesTo must echo when present."""
    if _DTD.search(msg) or b"\x00" in msg:  # NULs: UTF-16/32, which would hide a DTD
        raise ProtocolError("a DTD or a wide encoding in a SOAP message (refused)")
    try:
        root = ET.fromstring(msg[:MAX_MSG])
    except (ET.ParseError, ValueError, RecursionError) as e:
        raise ProtocolError(f"not XML: {e}"[:200]) from e
    if not root.tag.endswith("}Envelope"):
        raise ProtocolError("not a SOAP envelope")
    relates = root.find("{*}Header/{*}RelatesTo")
    if mid is not None and relates is not None and _text(relates) != mid:
        raise ProtocolError("RelatesTo is not our MessageID")
    match = root.find("{*}Body/{*}ProbeMatches/{*}ProbeMatch")
    if match is None:
        raise ProtocolError("no ProbeMatch in the reply")
    xaddrs = _words(match.find("{*}XAddrs"))
    scopes = _words(match.find("{*}Scopes"))
    out: dict[str, Any] = {
        "address": _text(match.find("{*}EndpointReference/{*}Address"))[:MAX_TEXT],
        "types": _words(match.find("{*}Types")),
        "xaddrs": xaddrs,
        "scopes": scopes,
    }
    version = _text(match.find("{*}MetadataVersion"))
    if version.isdigit():
        out["metadata_version"] = int(version[:10])
    named = parse_scopes(scopes)
    for key in _KEEP:
        if key in named:
            values = named[key]
            out[key] = values[0] if key in ("name", "hardware", "mac") else values
    if not xaddrs and not scopes:
        raise ProtocolError("a ProbeMatch with neither XAddrs nor Scopes")
    return out


def summary(section: dict[str, Any]) -> bytes:
    lines = [f"{k}: {section[k]}" for k in ("name", "hardware", "location") if k in section]
    lines += [f"xaddr: {x}" for x in section.get("xaddrs", [])[:4]]
    return "\n".join(lines).encode("utf-8", "replace")


async def probe(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    mid = message_id()

    def ours(reply: bytes) -> bool:
        try:
            parse_probe_matches(reply, mid)
        except ProtocolError:
            return False
        return True

    async with Datagram(ip, port) as d:
        reply = await d.request(probe_message(mid), opts.read_timeout, MAX_MSG, ours)
    if reply is None:
        return Outcome.SILENT
    section = parse_probe_matches(reply, mid)
    result.service = "onvif"
    result.responses["wsdiscovery"] = reply[: opts.max_bytes]
    result.sections["onvif"] = section
    result.data = summary(section)
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="onvif", udp_ports=(3702,), udp_probe=probe,
                    udp_payloads=lambda rid: (probe_message(message_id(rid)),))
