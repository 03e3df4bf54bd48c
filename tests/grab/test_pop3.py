import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.pop3 import capa_complete, parse_capa, parse_greeting
from netatlas.model import Endpoint
from tests.labsvc import lab_service

from .conftest import serve

GREETING = b"+OK Dovecot (Debian) ready.\r\n"
CAPA = (
    b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\n"
    b"SASL PLAIN LOGIN\r\nIMPLEMENTATION Cyrus POP3 v2.4.17\r\n.\r\n"
)


def test_parse_greeting() -> None:
    assert parse_greeting(GREETING) == {"banner": "Dovecot (Debian) ready."}
    apop = parse_greeting(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
    assert apop["apop"] is True
    err = parse_greeting(b"-ERR too many connections\r\n")
    assert err["error"] == "too many connections"
    with pytest.raises(ProtocolError):
        parse_greeting(b"* OK IMAP\r\n")


def test_parse_capa() -> None:
    assert not capa_complete(CAPA[:-3])
    assert capa_complete(CAPA) and capa_complete(b"-ERR unknown command\r\n")
    s = parse_capa(CAPA)
    assert s["capabilities"][:3] == ["CAPA", "TOP", "UIDL"]
    assert s["starttls"] is True and s["sasl"] == ["PLAIN", "LOGIN"]
    assert s["implementation"] == "Cyrus POP3 v2.4.17"
    assert parse_capa(b"-ERR no\r\n") == {}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_fuzz(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_greeting(data)
    parse_capa(data)
    parse_capa(b"+OK\r\n" + data)
    capa_complete(data)


async def test_live_fake_pop3(fast: GrabOptions) -> None:
    seen: list[bytes] = []

    async def pop3d(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(GREETING)
        while line := await r.readline():
            seen.append(line)
            if line == b"CAPA\r\n":
                w.write(CAPA)
            elif line == b"QUIT\r\n":
                w.write(b"+OK bye\r\n")
                await w.drain()
                return
            else:
                w.write(b"-ERR unknown\r\n")
            await w.drain()

    async with serve(pop3d, "127.20.250.60") as port:
        res = await grab_endpoint(Endpoint("127.20.250.60", port), fast)
        await asyncio.sleep(0.2)  # let the server read our QUIT
    assert res.status == "success", res.error
    assert res.service == "pop3" and res.data == GREETING
    s = res.sections["pop3"]
    assert s["banner"] == "Dovecot (Debian) ready." and s["starttls"] is True
    assert seen == [b"CAPA\r\n", b"QUIT\r\n"]  # no USER/PASS ever


async def test_live_greeting_only(fast: GrabOptions) -> None:
    """A server that ignores CAPA: the greeting is still the record, within bounds."""

    async def mute(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"+OK hello\r\n")
        await w.drain()
        await asyncio.sleep(30)

    async with serve(mute, "127.20.250.60") as port:
        res = await grab_endpoint(Endpoint("127.20.250.60", port), fast)
    # success, with the banner: the mute server did not hold it past total_timeout
    assert res.status == "success" and res.service == "pop3"
    assert res.sections["pop3"]["banner"] == "hello"


@pytest.mark.lab
async def test_lab_pop3(request: pytest.FixtureRequest) -> None:
    svc = lab_service(request, "pop3")
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "pop3"
    assert "Dovecot" in res.sections["pop3"]["banner"]
    assert res.sections["pop3"]["capabilities"]
