import asyncio
import struct

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.postgresql import (
    SSL_REQUEST,
    parse_messages,
    startup_facts,
    startup_message,
    summary,
)
from netatlas.model import Endpoint

from .conftest import serve


def msg(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", 4 + len(payload)) + payload


# What PostgreSQL 15 sends when pg_hba.conf has no line for us.
HBA_ERROR = msg(
    b"E",
    b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host "
    b'"127.20.0.9", user "netatlas", database "netatlas", no encryption\0'
    b"Fauth.c\0L543\0RClientAuthenticationError\0\0",
)
MD5 = msg(b"R", struct.pack(">I", 5) + b"salt")
SASL = msg(b"R", struct.pack(">I", 10) + b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")


def test_startup_message_layout() -> None:
    m = startup_message()
    assert struct.unpack(">II", m[:8]) == (len(m), 196608)
    assert m[8:] == b"user\0netatlas\0database\0netatlas\0application_name\0netatlas\0\0"


def test_error_response() -> None:
    f = startup_facts(HBA_ERROR)
    assert f["auth_method"] is None
    e = f["error"]
    assert e["severity"] == "FATAL" and e["sqlstate"] == "28000"
    assert e["routine"] == "ClientAuthenticationError" and e["file"] == "auth.c"
    assert e["line"] == "543" and e["message"].startswith("no pg_hba.conf entry")
    line = summary(b"N", f).decode()
    assert line.startswith("SSLRequest: N; error: S=FATAL C=28000 M=no pg_hba")
    assert "R=ClientAuthenticationError F=auth.c L=543" in line


def test_auth_requests() -> None:
    assert startup_facts(MD5)["auth_method"] == "md5"
    f = startup_facts(SASL)
    assert f["auth_method"] == "sasl"
    assert f["sasl_mechanisms"] == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]


def test_trust_collects_parameters() -> None:
    buf = (
        msg(b"R", b"\0\0\0\0")
        + msg(b"S", b"server_version\x0015.8\0")
        + msg(b"K", b"\0" * 8)
        + msg(b"Z", b"I")
    )
    f = startup_facts(buf)
    assert f["auth_method"] == "trust" and f["parameters"] == {"server_version": "15.8"}


@pytest.mark.parametrize(
    "bad",
    [
        b"E" + struct.pack(">I", 0x7FFFFFFF) + b"x",  # length lie
        b"E" + struct.pack(">I", 2),  # shorter than its own length field
    ],
)
def test_bad_lengths(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_messages(bad)


async def test_live_fake_postgres(fast: GrabOptions) -> None:
    async def pgd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readexactly(8)
        length, code = struct.unpack(">II", head)
        if head == SSL_REQUEST:
            w.write(b"N")
        elif code == 196608 and 8 < length < 10000:
            await r.readexactly(length - 8)
            w.write(HBA_ERROR)
        else:
            return  # like postgres: "invalid length of startup packet", hang up
        await w.drain()
        await r.read()

    async with serve(pgd, "127.20.250.43") as port:
        res = await grab_endpoint(Endpoint("127.20.250.43", port), fast)
    assert res.status == "success", res.error
    assert res.service == "postgresql"
    pg = res.sections["postgresql"]
    assert pg["ssl_supported"] is False and pg["error"]["sqlstate"] == "28000"
    assert res.data.startswith(b"SSLRequest: N; error: S=FATAL")
