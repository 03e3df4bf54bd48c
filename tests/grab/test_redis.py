import asyncio

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.redis import INFO, parse_info_reply, reply_complete
from netatlas.model import Endpoint

from .conftest import serve

BODY = (
    b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux 6.1 x86_64\r\n"
    b"arch_bits:64\r\ntcp_port:6379\r\nuptime_in_seconds:42\r\n# Clients\r\n"
    b"connected_clients:1\r\n# Memory\r\nused_memory_human:1.02M\r\nsecret_thing:x\r\n"
    b"# Replication\r\nrole:master\r\n"
)
REPLY = b"$%d\r\n%s\r\n" % (len(BODY), BODY)


def test_parse_info() -> None:
    s = parse_info_reply(REPLY)
    assert s["auth_required"] is False
    assert s["info"] == {
        "redis_version": "7.0.15",
        "redis_mode": "standalone",
        "os": "Linux 6.1 x86_64",
        "arch_bits": "64",
        "tcp_port": "6379",
        "uptime_in_seconds": "42",
        "connected_clients": "1",
        "used_memory_human": "1.02M",
        "role": "master",
    }


def test_parse_auth_errors() -> None:
    assert parse_info_reply(b"-NOAUTH Authentication required.\r\n")["auth_required"] is True
    assert parse_info_reply(b"-ERR operation not permitted, auth first\r\n")["auth_required"]
    d = parse_info_reply(b"-DENIED Redis is running in protected mode\r\n")
    assert d["protected_mode"] is True and d["auth_required"] is False
    with pytest.raises(ProtocolError):
        parse_info_reply(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(ProtocolError):
        parse_info_reply(b"$abc\r\n")


def test_reply_complete() -> None:
    assert not reply_complete(REPLY[:20])
    assert reply_complete(REPLY)
    assert reply_complete(b"-NOAUTH x\r\n")


async def test_live_fake_redis(fast: GrabOptions) -> None:
    async def redisd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        data = await r.read(100)
        if data == INFO:
            w.write(REPLY)
        else:  # what real redis says to a TLS hello or an HTTP line
            w.write(b"-ERR unknown command\r\n")
        await w.drain()
        await r.read()

    async with serve(redisd, "127.20.250.42") as port:
        res = await grab_endpoint(Endpoint("127.20.250.42", port), fast)
    assert res.status == "success", res.error
    assert res.service == "redis" and res.data == REPLY
    assert res.sections["redis"]["info"]["redis_version"] == "7.0.15"
