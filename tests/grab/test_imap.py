import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.imap import parse_greeting, parse_response, tagged_complete
from netatlas.model import Endpoint
from tests.labsvc import lab_service

from .conftest import serve

GREETING = (
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    b"AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
)
CAPS = (
    b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    b"LOGINDISABLED\r\na1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n"
)
ID = b'* ID ("name" "Dovecot" "version" "2.3.19.1")\r\na2 OK ID completed.\r\n'


def test_parse_greeting() -> None:
    g = parse_greeting(GREETING)
    assert g["status"] == "OK" and g["banner"] == "Dovecot (Debian) ready."
    assert "STARTTLS" in g["capabilities"] and g["capabilities"][0] == "IMAP4rev1"
    assert parse_greeting(b"* PREAUTH ready\r\n")["status"] == "PREAUTH"
    assert parse_greeting(b"* BYE too many\r\n") == {"status": "BYE", "banner": "too many"}
    with pytest.raises(ProtocolError):
        parse_greeting(b"+OK pop3\r\n")


def test_parse_responses() -> None:
    done = tagged_complete(b"a1")
    assert not done(CAPS[:-10]) and done(CAPS)
    r = parse_response(CAPS, "a1")
    assert r["status"] == "OK" and "LOGINDISABLED" in r["capabilities"]
    assert parse_response(ID, "a2")["id"] == {"name": "Dovecot", "version": "2.3.19.1"}
    assert parse_response(b"* ID NIL\r\na2 OK\r\n", "a2") == {"status": "OK"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_fuzz(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_greeting(data)
    parse_response(data, "a1")
    parse_response(b'* ID ("' + data, "a1")
    tagged_complete(b"a1")(data)


async def test_live_fake_imap(fast: GrabOptions) -> None:
    seen: list[bytes] = []

    async def imapd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"* OK Dovecot (Debian) ready.\r\n")
        while line := await r.readline():
            seen.append(line)
            if line == b"a1 CAPABILITY\r\n":
                w.write(CAPS)
            elif line == b"a2 ID NIL\r\n":
                w.write(ID)
            elif line == b"a3 LOGOUT\r\n":
                w.write(b"* BYE\r\na3 OK\r\n")
            await w.drain()

    async with serve(imapd, "127.20.250.61") as port:
        res = await grab_endpoint(Endpoint("127.20.250.61", port), fast)
        await asyncio.sleep(0.2)
    assert res.status == "success", res.error
    assert res.service == "imap"
    s = res.sections["imap"]
    assert s["banner"] == "Dovecot (Debian) ready."
    assert s["id"] == {"name": "Dovecot", "version": "2.3.19.1"}
    assert s["starttls"] is True and s["login_disabled"] is True
    assert seen == [b"a1 CAPABILITY\r\n", b"a2 ID NIL\r\n", b"a3 LOGOUT\r\n"]


@pytest.mark.lab
async def test_lab_imap(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "imap")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "imap"
    s = res.sections["imap"]
    assert "Dovecot" in s["banner"] and "IMAP4rev1" in s["capabilities"]
