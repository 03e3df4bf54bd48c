import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.ldap import (
    UNBIND,
    header,
    onelevel_request,
    parse_rootdse,
    reply_complete,
    search_request,
    split_messages,
    tlv,
)
from netatlas.model import Endpoint

from .conftest import serve


def attr(name: str, *vals: str) -> bytes:
    return tlv(
        0x30, tlv(0x04, name.encode()) + tlv(0x31, b"".join(tlv(0x04, v.encode()) for v in vals))
    )


def entry(*attrs: bytes) -> bytes:
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x64, tlv(0x04, b"") + tlv(0x30, b"".join(attrs))))


def done(code: int = 0, diag: bytes = b"") -> bytes:
    res = tlv(0x0A, bytes([code])) + tlv(0x04, b"") + tlv(0x04, diag)
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x65, res))


# what slapd 2.5 sends for base "" with attributes "*" "+"
OPENLDAP = (
    entry(
        attr("objectClass", "top", "OpenLDAProotDSE"),
        attr("structuralObjectClass", "OpenLDAProotDSE"),
        attr("namingContexts", "dc=example,dc=test"),
        attr("supportedLDAPVersion", "3"),
        attr("supportedSASLMechanisms", "SCRAM-SHA-256", "EXTERNAL"),
        attr("subschemaSubentry", "cn=Subschema"),
    )
    + done()
)
DS389 = (
    entry(attr("vendorName", "389 Project"), attr("vendorVersion", "389-Directory/2.3.4 B2023"))
    + done()
)


def test_request_is_well_formed_ber() -> None:
    req = search_request()
    tag, _s, e = header(req)
    assert tag == 0x30 and e == len(req)
    assert b"\x87\x0bobjectClass" in req  # (objectClass=*)
    assert tlv(0x30, tlv(0x02, b"\x02") + tlv(0x42, b"")) == UNBIND


def test_parse_openldap() -> None:
    s = parse_rootdse(OPENLDAP)
    assert s["result_code"] == 0 and s["vendor_name"] == "OpenLDAP"
    assert s["naming_contexts"] == ["dc=example,dc=test"]
    assert s["supported_ldap_versions"] == ["3"]
    assert s["supported_sasl_mechanisms"] == ["SCRAM-SHA-256", "EXTERNAL"]
    assert s["attributes"]["subschemaSubentry"] == ["cn=Subschema"]
    s = parse_rootdse(DS389)
    assert s["vendor_name"] == "389 Project" and s["vendor_version"].startswith("389-Directory/2")


def test_refusal_and_framing() -> None:
    s = parse_rootdse(done(50, b"anonymous access denied"))
    assert s["result_name"] == "insufficientAccessRights"
    assert s["diagnostic_message"] == "anonymous access denied" and s["attributes"] == {}
    assert not reply_complete(OPENLDAP[:-5]) and reply_complete(OPENLDAP)
    assert reply_complete(b"\x30\x84\x7f\xff\xff\xff")  # claims 2 GB: stop reading now
    assert split_messages(OPENLDAP[:-5]) == ([OPENLDAP[: len(OPENLDAP) - len(done())]], False)
    with pytest.raises(ProtocolError):
        parse_rootdse(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(ProtocolError):
        header(b"\x30\x84\xff\xff\xff\xff")  # a 4 GB length is checked, not trusted
    with pytest.raises(ProtocolError):
        header(b"\x30\x80\x00\x00")  # indefinite form


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=512))
def test_fuzz(data: bytes) -> None:
    reply_complete(data)
    for d in (data, tlv(0x30, data), OPENLDAP[:40] + data, entry(data) + done()):
        with contextlib.suppress(ProtocolError):
            parse_rootdse(d)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(OPENLDAP) - 1), st.integers(0, 255))
def test_fuzz_mutations(pos: int, byte: int) -> None:
    data = bytearray(OPENLDAP)
    data[pos] = byte
    with contextlib.suppress(ProtocolError):
        parse_rootdse(bytes(data))


async def test_live_fake_slapd(fast: GrabOptions) -> None:
    got: list[bytes] = []

    async def slapd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first = await r.read(1)
        if first != b"\x30":  # slapd drops a connection that is not BER
            return
        data = first + await r.read(4096)
        got.append(data)
        w.write(OPENLDAP)
        await w.drain()
        got.append(await r.read(100))

    async with serve(slapd, "127.20.250.67") as port:
        res = await grab_endpoint(Endpoint("127.20.250.67", port), fast)
        await asyncio.sleep(0.1)
    assert res.status == "success", res.error
    assert res.service == "ldap" and res.sections["ldap"]["vendor_name"] == "OpenLDAP"
    # the root DSE, then one one-level search of its naming context; each on its own
    # connection, each followed by an unbind; never a bind
    base = res.sections["ldap"]["naming_contexts"][0]
    assert got == [search_request(), UNBIND, onelevel_request(base), UNBIND]
