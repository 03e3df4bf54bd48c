"""LDAP beyond the root DSE: one anonymous one-level search of the first naming context.
The request and reply parser on bytes built per RFC 4511, hostile replies, and Debian 12's
real slapd started by the test with the lab's config and entries: readable anonymously
(slapd's default access), and behind an ACL that gives anonymous clients the root DSE
only; the ldap-anonymous-read check on both."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.ldap import onelevel_request, parse_onelevel, tlv
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation

from .sharing_servers import slapd

IP = "127.20.250.84"
BASE = "dc=lab,dc=netatlas,dc=test"


def entry(dn: str, msgid: int = 2) -> bytes:
    """SearchResultEntry (RFC 4511 section 4.5.2, [APPLICATION 4]): objectName and an
    empty attribute list (we asked for "1.1")."""
    return tlv(0x30, tlv(0x02, bytes([msgid])) + tlv(0x64, tlv(0x04, dn.encode())
                                                      + tlv(0x30, b"")))


def done(code: int, msgid: int = 2, diag: bytes = b"") -> bytes:
    """SearchResultDone ([APPLICATION 5]): resultCode, matchedDN, diagnosticMessage."""
    return tlv(0x30, tlv(0x02, bytes([msgid])) + tlv(0x65, tlv(0x0A, bytes([code]))
                                                      + tlv(0x04, b"") + tlv(0x04, diag)))


def test_onelevel_request_is_rfc_4511s() -> None:
    req = onelevel_request(BASE)
    # scope singleLevel (1), sizeLimit 5, typesOnly TRUE, attributes ["1.1"]
    assert tlv(0x04, BASE.encode()) + tlv(0x0A, b"\x01") in req
    assert tlv(0x02, b"\x05") + tlv(0x02, b"\x05") + tlv(0x01, b"\xff") in req
    assert req.endswith(tlv(0x30, tlv(0x04, b"1.1")))


def test_parse_onelevel() -> None:
    two = entry(f"ou=people,{BASE}") + entry(f"ou=groups,{BASE}") + done(0)
    got = parse_onelevel(two, BASE)
    assert got == {"base": BASE, "entries": 2, "result_code": 0, "result_name": "success",
                   "dns": [f"ou=people,{BASE}", f"ou=groups,{BASE}"], "truncated": False}
    more = b"".join(entry(f"cn=u{i},{BASE}") for i in range(5)) + done(4)
    assert parse_onelevel(more, BASE)["truncated"] is True
    denied = parse_onelevel(done(50, diag=b"no read access"), BASE)
    assert denied["entries"] == 0 and denied["result_name"] == "insufficientAccessRights"


def test_hostile_onelevel() -> None:
    with pytest.raises(ProtocolError):
        parse_onelevel(b"", BASE)
    with pytest.raises(ProtocolError):
        parse_onelevel(b"\x30\x84\xff\xff\xff\xff", BASE)  # a 4 GB message
    flood = b"".join(entry("cn=" + "x" * 1000) for _ in range(50)) + done(0)
    got = parse_onelevel(flood, BASE)  # a server ignoring sizeLimit: counted, DNs capped
    assert got["entries"] == 50 and len(got["dns"]) == 5
    assert all(len(d) <= 200 for d in got["dns"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz(data: bytes) -> None:
    for d in (data, entry("cn=a") + data, tlv(0x30, data)):
        with contextlib.suppress(ProtocolError):
            parse_onelevel(d, BASE)


def _observe(ep: Endpoint, res: object) -> Observation:
    ident = Identifier().identify(res, ep)  # type: ignore[arg-type]
    return Observation.build(ep, "t", res, ident)  # type: ignore[arg-type]


async def test_real_slapd_readable_anonymously(tmp_path: Path) -> None:
    with slapd(tmp_path, IP, anonymous_read=True) as port:
        ep = Endpoint(IP, port)
        res = await grab_endpoint(ep, GrabOptions())
    read = res.sections["ldap"]["anonymous_read"]
    assert read["base"] == BASE and read["entries"] == 2 and read["result_code"] == 0
    assert sorted(read["dns"]) == [f"ou=groups,{BASE}", f"ou=people,{BASE}"]
    obs = _observe(ep, res)
    assert obs.product == "OpenLDAP"
    [f] = [f for f in assess(obs) if f.id == "ldap-anonymous-read"]
    assert f.severity == "medium" and "returned 2 entr" in f.evidence


async def test_real_slapd_root_dse_only(tmp_path: Path) -> None:
    with slapd(tmp_path, IP, anonymous_read=False) as port:
        ep = Endpoint(IP, port)
        res = await grab_endpoint(ep, GrabOptions())
    ldap = res.sections["ldap"]
    assert ldap["naming_contexts"] == [BASE]  # the root DSE is still readable
    read = ldap["anonymous_read"]
    assert read["entries"] == 0 and read["result_name"] == "insufficientAccessRights"
    assert "ldap-anonymous-read" not in {f.id for f in assess(_observe(ep, res))}
