"""ONVIF WS-Discovery grabber (grab/protocols/onvif.py) against a device written here.

No ONVIF device or WS-Discovery target service is installable from Debian 12 or PyPI
on this machine, so ``probe_matches`` builds the reply as WS-Discovery 2005/04
section 5.3 lays out a ProbeMatches message (SOAP 1.2 envelope; WS-Addressing 2004/08
header with MessageID, RelatesTo = the Probe's MessageID, To = the anonymous role,
Action .../discovery/ProbeMatches, and the d:AppSequence header; a body of
d:ProbeMatches / d:ProbeMatch with wsa:EndpointReference, d:Types, d:Scopes,
d:XAddrs, d:MetadataVersion) and with the scopes the ONVIF Core Specification 7.3.2.2
defines (onvif://www.onvif.org/type/…, name/…, hardware/…, location/…, Profile/…),
in the shape a Hikvision camera answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.discover import Payloads
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine import udp
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols import onvif
from netatlas.model import Endpoint

from .udpserver import HOST, udp_server

SCOPES = ("onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming "
          "onvif://www.onvif.org/Profile/T onvif://www.onvif.org/hardware/DS-2CD2143G2-I "
          "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I "
          "onvif://www.onvif.org/location/city/hangzhou "
          "onvif://www.onvif.org/MAC/bc:ba:c2:11:22:33 http://www.example.com/other")


def probe_matches(relates_to: str, scopes: str = SCOPES,
                  xaddrs: str = "http://127.20.250.37/onvif/device_service") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<env:Header>
<wsa:MessageID>urn:uuid:5b7a3a40-8f4e-11b2-8a3b-bcbac2112233</wsa:MessageID>
<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>
<wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
<d:AppSequence InstanceId="1701234567" MessageNumber="12"/>
</env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsa:EndpointReference><wsa:Address>urn:uuid:3fa1fe68-b915-4053-a3e1-bcbac2112233</wsa:Address></wsa:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>{scopes}</d:Scopes>
<d:XAddrs>{xaddrs}</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>""".encode()


def camera(data: bytes) -> list[bytes]:
    """Answer a Probe for NetworkVideoTransmitter, relating to its MessageID."""
    m = re.search(rb"<w:MessageID>([^<]+)</w:MessageID>", data)
    if m is None or b"NetworkVideoTransmitter" not in data:
        return []
    return [probe_matches(m.group(1).decode())]


def test_probe_is_a_ws_discovery_probe() -> None:
    mid = onvif.message_id()
    root = ET.fromstring(onvif.probe_message(mid))
    ns = {"e": "http://www.w3.org/2003/05/soap-envelope",
          "w": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
          "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery"}
    assert root.findtext("e:Header/w:MessageID", namespaces=ns) == mid
    assert root.findtext("e:Header/w:Action", namespaces=ns).endswith("/discovery/Probe")
    assert root.findtext("e:Body/d:Probe/d:Types", namespaces=ns) == \
        "dn:NetworkVideoTransmitter"
    assert onvif.message_id(7) == onvif.message_id(7) != onvif.message_id(8)


def test_parse_probe_matches() -> None:
    s = onvif.parse_probe_matches(probe_matches("uuid:x"), "uuid:x")
    assert s["xaddrs"] == ["http://127.20.250.37/onvif/device_service"]
    assert s["name"] == "HIKVISION DS-2CD2143G2-I" and s["hardware"] == "DS-2CD2143G2-I"
    assert s["location"] == ["city/hangzhou"] and s["profile"] == ["Streaming", "T"]
    assert s["mac"] == "bc:ba:c2:11:22:33" and s["metadata_version"] == 10
    assert s["types"] == ["dn:NetworkVideoTransmitter", "tds:Device"]
    assert s["address"].startswith("urn:uuid:3fa1fe68")
    with pytest.raises(ProtocolError, match="RelatesTo"):
        onvif.parse_probe_matches(probe_matches("uuid:other"), "uuid:x")


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>&d;</e:Body>
</e:Envelope>"""
XXE = b"""<?xml version="1.0"?><!doctype e [<!entity x SYSTEM "file:///etc/passwd">]>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">&x;</e:Envelope>"""


@pytest.mark.parametrize("bad", [
    b"",
    b"not xml at all",
    LAUGHS,
    XXE,
    probe_matches("uuid:x").decode().encode("utf-16"),  # a DTD could hide in there
    b"<a><b></a>",
    b"<e:Envelope xmlns:e='http://www.w3.org/2003/05/soap-envelope'/>",  # no match
    probe_matches("uuid:x", scopes="", xaddrs=""),
    b"<x>" * 20000,  # deep and unclosed
])
def test_hostile_replies(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        onvif.parse_probe_matches(bad, "uuid:x")


def test_long_lists_are_capped() -> None:
    many = " ".join(f"onvif://www.onvif.org/location/{'x' * 400}{i}" for i in range(100))
    s = onvif.parse_probe_matches(probe_matches("uuid:x", scopes=many), "uuid:x")
    assert len(s["scopes"]) == onvif.MAX_ITEMS
    assert max(len(v) for v in s["location"]) <= onvif.MAX_TEXT


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz(text: str) -> None:
    for buf in (text.encode(), probe_matches(text).replace(b"uuid:", b"")):
        with contextlib.suppress(ProtocolError):
            onvif.parse_probe_matches(buf, "uuid:x")


def test_discovery_sends_the_probe_to_3702() -> None:
    (payload,) = Payloads(nmap_file=None).for_port(3702)[:1]
    assert b"NetworkVideoTransmitter" in payload and b"<w:MessageID>uuid:" in payload
    assert udp.usual()[3702] == "onvif"


async def test_live_camera(fast: GrabOptions) -> None:
    async with udp_server(camera) as (port, proto):
        res = await grab_endpoint(Endpoint(HOST, port, "udp"), fast)
    assert res.status == "success", res.error
    assert res.service == "onvif"
    assert res.sections["onvif"]["hardware"] == "DS-2CD2143G2-I"
    assert b"hardware: DS-2CD2143G2-I" in res.data
    assert any(b"NetworkVideoTransmitter" in d for d in proto.received)


async def test_live_replies_to_someone_else_are_not_taken(fast: GrabOptions) -> None:
    def stranger(data: bytes) -> list[bytes]:
        return [probe_matches("uuid:00000000-0000-0000-0000-000000000000")] * 3 \
            if b"NetworkVideoTransmitter" in data else []

    async with udp_server(stranger) as (port, _):
        res = await grab_endpoint(Endpoint(HOST, port, "udp"), fast)
    assert res.service != "onvif" and "onvif" not in res.sections


async def test_live_endless_replies_are_bounded(fast: GrabOptions) -> None:
    def flood(data: bytes) -> list[bytes]:
        return [b"<x>" + b"y" * 60000] * 50 if b"NetworkVideoTransmitter" in data else []

    loop = asyncio.get_running_loop()
    async with udp_server(flood) as (port, _):
        started = loop.time()
        res = await grab_endpoint(Endpoint(HOST, port, "udp"), fast)
    assert loop.time() - started < fast.total_timeout
    assert "onvif" not in res.sections
