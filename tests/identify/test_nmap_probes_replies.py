"""Every probe's reply is matched against that probe's lines and fallbacks (not only NULL
and GetRequest), on replies captured from the lab's slapd, dnsmasq and Kerberos KDC."""

from __future__ import annotations

import pytest

from netatlas.identify.engine import Identifier, is_version_range
from netatlas.identify.nmap_probes import DEFAULT_PATH, NmapProbes, shared
from netatlas.model import Endpoint, GrabResult

pytestmark = pytest.mark.skipif(not DEFAULT_PATH.is_file(), reason="nmap is not installed")

# dnsmasq 2.90's answer over TCP (length prefix first) to nmap's DNSVersionBindReqTCP
DNSMASQ = (b"\x007\xf6\xbb\x84\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00"
           b"\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\r\x0cdnsmasq-2.90")
# slapd 2.5 refusing nmap's LDAPv2 bind (LDAPBindReq)
SLAPD_BIND = b"0E\x02\x01\x01a@\n\x01\x02\x04\x00\x049historical protocol version requested, " \
    b"use LDAPv3 instead"
# an MIT KDC's KRB-ERROR to any junk (here nmap's GenericLines)
KDC = (b"\x00\x00\x00j~h0f\xa0\x03\x02\x01\x05\xa1\x03\x02\x01\x1e\xa4\x11\x18\x0f"
       b"20261129091055Z\xa5\x05\x02\x03\x0c\xb5I\xa6\x03\x02\x01=\xa9\x13\x1b\x11"
       b"LAB.NETATLAS.TEST\xaa&0$\xa0\x03\x02\x01\x02\xa1\x1d0\x1b\x1b\x06krbtgt\x1b\x11"
       b"LAB.NETATLAS.TEST")


@pytest.fixture(scope="module")
def real() -> NmapProbes:
    db = shared()
    assert db is not None
    return db


def test_shared_is_parsed_once(real: NmapProbes) -> None:
    assert shared(DEFAULT_PATH) is real
    assert Identifier(fingerprints=None).nmap is real  # the identifier reads the same copy


def test_tcp_probe_falls_back_to_the_udp_probe_of_that_name(real: NmapProbes) -> None:
    probe = real.probe("DNSVersionBindReqTCP")
    assert probe is not None and probe.fallback == ("DNSVersionBindReq",)
    hit = real.match_probe(probe, DNSMASQ)
    assert hit is not None and not hit.soft
    assert (hit.service, hit.product, hit.version) == ("domain", "dnsmasq", "2.90")
    assert hit.cpe == ["cpe:/a:thekelleys:dnsmasq:2.90"]
    assert hit.probe == "DNSVersionBindReqTCP"
    assert real.can_match(probe, "domain")  # through the UDP fallback's lines


def test_each_reply_is_matched_by_its_own_probe(real: NmapProbes) -> None:
    results = real.match({"LDAPBindReq": SLAPD_BIND, "GenericLines": KDC,
                          "imap-CAPABILITY": b"* OK"})  # not an nmap probe: skipped
    by_probe = {r.probe: r for r in results}
    assert set(by_probe) == {"LDAPBindReq", "GenericLines"}
    assert (by_probe["LDAPBindReq"].service, by_probe["LDAPBindReq"].product) == (
        "ldap", "OpenLDAP")
    kdc = by_probe["GenericLines"]
    assert (kdc.service, kdc.product) == ("kerberos-sec", "MIT Kerberos")
    # the same bytes under a probe whose lines do not know them: no match
    assert all(r.service != "ldap" for r in real.match({"LDAPBindReq": KDC}))


def test_identification_names_the_probe_and_drops_guessed_ranges() -> None:
    ident = Identifier(fingerprints=None)
    ep = Endpoint("127.20.12.35", 3000)
    res = GrabResult(responses={"LDAPBindReq": SLAPD_BIND})
    cands = [c for c in ident.candidates(res, ep) if c.source == "nmap"]
    assert cands and cands[0].rule_id.startswith("nmap:LDAPBindReq:")
    assert cands[0].version is None and "2.2.X" in (cands[0].info or "")
    i = ident.identify(res, ep)
    assert (i.service, i.product, i.version, i.source) == ("ldap", "OpenLDAP", None, "nmap")
    assert i.probe == "LDAPBindReq"  # which probe's reply named it
    k = ident.identify(GrabResult(responses={"GenericLines": KDC}), Endpoint("127.20.12.37",
                                                                               8888))
    assert (k.service, k.product, k.probe) == ("kerberos-sec", "MIT Kerberos", "GenericLines")
    assert ident.identify(GrabResult(), ep).probe is None


@pytest.mark.parametrize(("version", "is_range"), [
    ("2.2.X - 2.3.X", True), ("3.X - 4.X", True), ("5.0 - 5.5", True), ("2.1.X", True),
    ("1.20.1", False), ("9.2p1 Debian 2", False), ("v1", False), ("1.0-beta", False),
])
def test_version_range(version: str, is_range: bool) -> None:
    assert is_version_range(version) is is_range
