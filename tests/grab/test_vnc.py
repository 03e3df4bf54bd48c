import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.vnc import (
    client_version,
    parse_security,
    parse_version,
    security_needed,
)
from netatlas.model import Endpoint

from .conftest import serve


def test_versions() -> None:
    assert parse_version(b"RFB 003.008\n") == (3, 8)
    assert client_version(3, 889) == b"RFB 003.008\n"  # Apple Remote Desktop
    assert client_version(3, 7) == b"RFB 003.007\n"
    assert client_version(3, 3) == b"RFB 003.003\n"
    with pytest.raises(ProtocolError):
        parse_version(b"RFB 3.8\n")


def test_security() -> None:
    s = parse_security(b"\x02\x02\x10", 8)
    assert s["security_types"] == [2, 16] and s["auth_required"] is True
    assert s["security_type_names"] == ["VNC Authentication", "Tight"]
    assert parse_security(b"\x01\x01", 8)["auth_required"] is False
    fail = parse_security(b"\x00\x00\x00\x00\x0dToo many conn", 8)
    assert fail == {"security_types": [], "error": "Too many conn"}
    assert parse_security(b"\x00\x00\x00\x02", 3)["security_types"] == [2]  # 3.3: chosen type
    assert security_needed(b"\x05\x01", 8) == 6
    with pytest.raises(ProtocolError):
        parse_security(b"\x05\x01", 8)
    # a hostile reason length is capped, not trusted
    assert security_needed(b"\x00\xff\xff\xff\xff", 8) == 5 + 1024


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([3, 7, 8]))
def test_fuzz(data: bytes, minor: int) -> None:
    security_needed(data, minor)
    for fn in (lambda: parse_version(data), lambda: parse_security(data, minor)):
        with contextlib.suppress(ProtocolError):
            fn()


async def test_live_fake_vnc(fast: GrabOptions) -> None:
    got: list[bytes] = []

    async def vncd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"RFB 003.008\n")
        await w.drain()
        got.append(await r.readexactly(12))
        w.write(b"\x02\x02\x12")
        await w.drain()
        await r.read()

    async with serve(vncd, "127.20.250.64") as port:
        res = await grab_endpoint(Endpoint("127.20.250.64", port), fast)
    assert res.status == "success", res.error
    assert res.service == "vnc" and got == [b"RFB 003.008\n"]
    s = res.sections["vnc"]
    assert s["protocol_version"] == "003.008" and s["security_types"] == [2, 18]
