"""detect hands what its own probes cannot name to the nmap probe scheduler: silent
services on unusual ports (fixtures here, slapd / dnsmasq / a Kerberos KDC in the lab),
unknown greetings; a tarpit stays bounded."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify.engine import Identifier
from netatlas.identify.nmap_probes import DEFAULT_PATH
from netatlas.model import Endpoint
from tests.labsvc import lab_named

from .conftest import serve
from .test_scheduler import PROBES

HOST = "127.20.12.202"
needs_nmap = pytest.mark.skipif(not DEFAULT_PATH.is_file(), reason="nmap is not installed")

# dnsmasq's answer to nmap's version.bind query (captured from the lab), id patched in
VERSION_BIND = (b"\x84\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10"
                b"\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\r\x0cdnsmasq-2.90")


async def dnsd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """DNS over TCP: waits silently for a length prefix's worth of bytes."""
    while True:
        n = struct.unpack(">H", await r.readexactly(2))[0]
        q = await r.readexactly(n)
        msg = q[:2] + VERSION_BIND
        w.write(struct.pack(">H", len(msg)) + msg)
        await w.drain()


@needs_nmap
async def test_silent_dns_on_an_unhinted_port_is_found(fast: GrabOptions) -> None:
    async with serve(dnsd, HOST) as port:
        ep = Endpoint(HOST, port)
        res = await grab_endpoint(ep, fast)
    assert res.status == "success", res.error
    assert res.service == "domain"
    assert "DNSVersionBindReqTCP" in res.responses
    assert res.sections["dns"]["version_bind"] == "dnsmasq-2.90"  # our grabber took over
    ident = Identifier(fingerprints=None).identify(res, ep)
    assert (ident.service, ident.product, ident.version) == ("domain", "dnsmasq", "2.90")


async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


@needs_nmap
async def test_tarpit_costs_at_most_one_silent_window_more(fast: GrabOptions) -> None:
    """With the scheduler a tarpit costs at most its silent window more (in fact less:
    nothing answers that window, so the grab stops before a second silent probe)."""
    async with serve(tarpit, HOST) as port:
        for on in (False, True):
            fast.nmap_probes = str(DEFAULT_PATH) if on else None
            res = await grab_endpoint(Endpoint(HOST, port), fast)
            # given up on the silence, with and without the scheduler: never run into
            # total_timeout (that error would say so)
            assert res.status == "io-timeout" and res.error == "no response to any probe"


async def test_unknown_greeting_goes_to_the_scheduler(fast: GrabOptions,
                                                      tmp_path: Path) -> None:
    (tmp_path / "probes").write_text(PROBES)
    fast.nmap_probes = str(tmp_path / "probes")
    fast.nmap_intensity = 9

    async def chatty(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # greets a client that says nothing first, answers one that does
        try:
            line = (await asyncio.wait_for(r.readline(), 0.1)).strip()
        except TimeoutError:
            w.write(b"XYZ server ready\r\n")
            await w.drain()
            await r.read()
            return
        if line == b"GAMMA":
            w.write(b"WIDGET v4.2\r\n")
            await w.drain()
            await asyncio.sleep(0.05)

    async with serve(chatty, HOST) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    assert res.status == "success", res.error
    assert res.responses["NULL"].startswith(b"XYZ")
    assert res.service == "widget" and res.responses["Gamma"] == b"WIDGET v4.2\r\n"


@needs_nmap
@pytest.mark.lab
@pytest.mark.parametrize(("name", "probe"), [
    ("ldap-odd", "LDAPSearchReq"),  # slapd on 3000, silent to our GET
    ("dns-odd", "DNSVersionBindReqTCP"),  # dnsmasq on 5300, silent to TLS and GET
    ("kerberos-odd", None),  # none of our grabbers speak Kerberos
])
async def test_lab_services_only_the_scheduler_reaches(request: pytest.FixtureRequest,
                                                       name: str, probe: str | None) -> None:
    svc = lab_named(request, name)
    ep = Endpoint(svc.ip, svc.port)
    res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success", res.error  # not cut by total_timeout
    if probe:
        assert probe in res.responses
    else:
        assert Identifier(fingerprints=None).identify(res, ep).probe  # nmap's, named
    ident = Identifier(fingerprints=None).identify(res, ep)
    assert (ident.service, ident.product) == (svc.service, svc.product)
    if svc.version_visible:
        assert ident.version == svc.version
    else:
        assert ident.version is None  # slapd and the KDC do not tell it: no guess either


@needs_nmap
async def test_scheduler_probes_inside_tls(fast: GrabOptions, tmp_path: Path) -> None:
    """DNS over TLS on an unhinted port: the nmap probes go through the TLS wrapper."""
    from .tlsserver import self_signed, server_context

    cert, key = self_signed(tmp_path, ip=HOST)
    sctx = server_context(cert, key, alpn=())
    fast.total_timeout = 10.0
    async with serve(dnsd, HOST, ssl_ctx=sctx) as port:
        res = await grab_endpoint(Endpoint(HOST, port), fast)
    assert res.status == "success", res.error
    assert res.tls and "ssl" in res.sections
    assert res.service == "domain"
    assert res.sections["dns"]["version_bind"] == "dnsmasq-2.90"


def test_protocols_in_replies_to_nmap_probes() -> None:
    from netatlas.grab.engine.detect import protocols_in_replies

    snap7 = b"\x03\x00\x00\x0e\t\xd0\x00\x00\x00\x01\x00\xc0\x01\n"  # COTP CC, no RDP part
    xrdp = (b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00"  # COTP CC + RDP_NEG_RSP
            b"\x02\x1f\x08\x00\x02\x00\x00\x00")
    assert protocols_in_replies({"TerminalServer": snap7}) == ["s7", "rdp"]
    assert protocols_in_replies({"TerminalServerCookie": xrdp}) == ["rdp", "s7"]
    assert protocols_in_replies({"GenericLines": b"AMQP\x00\x00\x09\x01"}) == ["amqp"]
    assert protocols_in_replies({"GenericLines": b"ERROR\r\n"}) == []
