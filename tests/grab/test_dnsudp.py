"""DNS over UDP: the shared codec against the lab's dnsmasq (53/udp) and hostile replies."""

from __future__ import annotations

from typing import Any

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols import dns
from netatlas.identify import Identifier
from netatlas.model import Endpoint

from . import udpserver
from .udpserver import HOST, udp_server

udp_lab = udpserver.udp_lab  # the UDP part of the lab only


def test_udp_message_is_the_tcp_one_without_its_prefix() -> None:
    assert dns.query(qid=7)[2:] == dns.message(qid=7)


async def test_reply_with_another_id_is_ignored() -> None:
    def wrong_id(req: bytes) -> list[bytes]:
        bad = bytes([req[0] ^ 0xFF, req[1]]) + b"\x84\x00" + req[4:]
        return [bad, b"\x00" * 3]

    async with udp_server(wrong_id) as (port, proto):
        res = await grab_endpoint(Endpoint(HOST, port, "udp"),
                                  GrabOptions(read_timeout=0.4, total_timeout=4))
    assert proto.received
    assert "dns" not in res.sections and res.status == "io-timeout"
    assert "total_timeout" not in (res.error or "")  # its read deadlines ended it


async def test_lab_dnsmasq_over_udp(udp_lab: dict[str, Any]) -> None:
    svc = udp_lab.get("dns-udp")
    if svc is None:
        pytest.skip("lab dns-udp not running")
    ep = Endpoint(svc.ip, svc.port, "udp")
    res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success" and res.service == "domain"
    assert res.sections["dns"]["version_bind"] == f"dnsmasq-{svc.version}"
    ident = Identifier().identify(res, ep)
    assert (ident.product, ident.version) == ("dnsmasq", svc.version)
