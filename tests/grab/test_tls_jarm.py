"""JARM: stable for one server (GREASE and randoms do not leak into it), different for
different TLS set-ups, all zeros when nothing answers — on Python ssl servers made here
and the lab's nginx endpoints."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.tls_jarm import NO_TLS, digest, hellos
from netatlas.model import Endpoint
from tests.labsvc import lab_named

from .tlsserver import HOST, self_signed, server_context, tls_server

V = ssl.TLSVersion
JARM = re.compile(r"[0-9a-f]{62}")


def test_ten_hellos_and_the_empty_hash() -> None:
    packets = hellos("127.20.16.5", 443)
    assert len(packets) == 10 and all(p[1][0] == 0x16 for p in packets)
    assert b"127.20.16.5" in packets[0][1]  # SNI carries the name scanned, as the tool's
    assert digest([None] * 10, packets) == NO_TLS
    alert = b"\x15\x03\x03\x00\x02\x02\x28"
    assert digest([alert] * 10, packets) == NO_TLS  # refusals are not a fingerprint


async def jarm_of(port: int, opts: GrabOptions) -> str:
    res = await grab_endpoint(Endpoint(HOST, port), opts)
    assert res.status == "success", res.error
    jarm = res.sections["ssl"]["jarm"]
    assert JARM.fullmatch(jarm) and jarm != NO_TLS
    return jarm


async def test_stable_and_discriminating(tmp_path: Path, fast: GrabOptions) -> None:
    cert = self_signed(tmp_path)
    with tls_server(server_context(*cert)) as srv:
        first, second = await jarm_of(srv.port, fast), await jarm_of(srv.port, fast)
    with tls_server(server_context(*cert, high=V.TLSv1_2)) as srv:
        tls12 = await jarm_of(srv.port, fast)
    assert first == second
    assert tls12 != first


@pytest.mark.lab
async def test_lab_nginx_jarms(request: pytest.FixtureRequest) -> None:
    got: dict[str, str] = {}
    for name in ("nginx-https", "nginx-tls-legacy", "nginx-tls-modern"):
        svc = lab_named(request, name)
        ep = Endpoint(svc.ip, svc.port)
        a = (await grab_endpoint(ep, GrabOptions())).sections["ssl"]["jarm"]
        b = (await grab_endpoint(ep, GrabOptions())).sections["ssl"]["jarm"]
        assert a == b and JARM.fullmatch(a), (name, a, b)
        got[name] = a
    print(got)
    assert len(set(got.values())) == 3  # three TLS set-ups of one nginx, three hashes
