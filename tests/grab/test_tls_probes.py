"""Accepted versions and weak cipher classes, by real handshakes: Python ssl servers set up
here (each version range, NULL and anonymous suites, hostile probes) and the lab's nginx
endpoints. The extra connections are counted server-side: the probes must stay few."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.tls_jarm import NO_TLS
from netatlas.grab.protocols.tls_probes import budget, versions_list
from netatlas.model import Endpoint
from tests.labsvc import lab_named

from .tlsserver import HOST, self_signed, server_context, tls_server

V = ssl.TLSVersion


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


async def grab(port: int, opts: GrabOptions) -> Any:
    res = await grab_endpoint(Endpoint(HOST, port), opts)
    assert res.status == "success", res.error
    return res


@pytest.mark.parametrize(("low", "high", "versions", "extras"), [
    # best 1.3: one 1.2 handshake, one 1.0-1.1 handshake, one weak-suite hello
    (V.TLSv1_2, V.TLSv1_3, ["-TLSv1", "-TLSv1.1", "TLSv1.2", "TLSv1.3"], 3),
    # 1.3 only: the 1.2 and 1.0-1.1 handshakes, no weak-suite hello (1.3 has none)
    (V.TLSv1_3, V.TLSv1_3, ["-TLSv1", "-TLSv1.1", "-TLSv1.2", "TLSv1.3"], 2),
    # best 1.2 with 1.1 and 1.0: 1.0-1.1 picks 1.1, then 1.0 alone, SSLv3, weak hello
    (V.TLSv1, V.TLSv1_2, ["-SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "-TLSv1.3"], 4),
    # best 1.1: 1.0 alone, SSLv3, weak hello
    (V.TLSv1, V.TLSv1_1, ["-SSLv3", "TLSv1", "TLSv1.1", "-TLSv1.2", "-TLSv1.3"], 3),
    # 1.0 only: SSLv3 and the weak hello
    (V.TLSv1, V.TLSv1, ["-SSLv3", "TLSv1", "-TLSv1.1", "-TLSv1.2", "-TLSv1.3"], 2),
])
async def test_versions_with_few_handshakes(cert: tuple[Path, Path], fast: GrabOptions,
                                            low: V, high: V, versions: list[str],
                                            extras: int) -> None:
    ctx = server_context(*cert, low=low, high=high, ciphers="DEFAULT:@SECLEVEL=0")
    with tls_server(ctx) as srv:
        res = await grab(srv.port, fast)
    s = res.sections["ssl"]
    assert s["versions"] == versions
    assert s["weak_ciphers"] == {}
    assert "probe_error" not in s
    assert srv.extras == extras, srv.extras
    assert srv.jarms == 10 and len(s["jarm"]) == 62  # JARM's own ten hellos
    assert res.sections["http"]["title"] == "tls test page"


async def test_weak_classes_one_hello_each(cert: tuple[Path, Path], fast: GrabOptions) -> None:
    # NULL-SHA (NULL) and AECDH-AES128-SHA (anonymous) as the only weak suites
    ctx = server_context(*cert, high=V.TLSv1_2,
                         ciphers="ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA:AECDH-AES128-SHA:"
                                 "@SECLEVEL=0")
    with tls_server(ctx) as srv:
        res = await grab(srv.port, fast)
    weak = res.sections["ssl"]["weak_ciphers"]
    assert weak == {"NULL": {"cipher": "NULL-SHA", "version": "TLSv1.2"},
                    "anonymous": {"cipher": "AECDH-AES128-SHA", "version": "TLSv1.2"}}
    # 1.0-1.1 handshake, 1.0 handshake, SSLv3 hello, and 2 + 1 weak-suite hellos
    assert srv.extras == 6, srv.extras


async def test_one_suite_in_two_classes(cert: tuple[Path, Path], fast: GrabOptions) -> None:
    ctx = server_context(*cert, low=V.TLSv1_2, high=V.TLSv1_2,
                         ciphers="ECDHE-RSA-AES128-GCM-SHA256:AECDH-NULL-SHA:@SECLEVEL=0")
    with tls_server(ctx) as srv:
        res = await grab(srv.port, fast)
    weak = res.sections["ssl"]["weak_ciphers"]
    assert set(weak) == {"NULL", "anonymous"}
    assert {w["cipher"] for w in weak.values()} == {"AECDH-NULL-SHA"}


@pytest.mark.parametrize("extra", ["reset", "drip", "silent"])
async def test_hostile_probes_are_bounded(cert: tuple[Path, Path], fast: GrabOptions,
                                          extra: str) -> None:
    """The first handshake and the HTTP grab are real; every probe connection meets a
    reset after its ClientHello, a drip feeder or silence."""
    ctx = server_context(*cert, low=V.TLSv1_2)
    with tls_server(ctx, extra) as srv:
        res = await grab(srv.port, fast)
    s = res.sections["ssl"]
    assert res.status == "success"  # within total_timeout: the grab was not cut
    assert res.sections["http"]["title"] == "tls test page"
    assert s["version"] == "TLSv1.3" and "TLSv1.3" in s["versions"]
    if extra == "reset":  # a reset is a refusal: every probe ran, each said no
        assert s["versions"] == ["-TLSv1", "-TLSv1.1", "-TLSv1.2", "TLSv1.3"]
        assert "probe_error" not in s and s["weak_ciphers"] == {}
        assert s["jarm"] == NO_TLS and srv.jarms == 10  # JARM's "nothing answered"
    else:  # the first silence stops the probing: one probe, within the budget
        assert srv.extras == 1 and "timed out" in s["probe_error"]
        assert "weak_ciphers" not in s
        assert srv.jarms == 1 and "jarm" not in s  # no fingerprint from one hello


async def test_reset_after_every_client_hello(cert: tuple[Path, Path],
                                              fast: GrabOptions) -> None:
    """No handshake ever completes: no ssl section, no probes, a bounded failure."""
    with tls_server(server_context(*cert), "reset", reset_all=True) as srv:
        res = await grab_endpoint(Endpoint(HOST, srv.port), fast)
    assert "ssl" not in res.sections and res.tls is False
    assert res.status == "protocol-error" and res.service is None, (res.status, res.error)
    assert srv.jarms == 0  # JARM runs only after a handshake succeeded


def budget_of(opts: GrabOptions) -> tuple[float, float]:
    from netatlas.grab.engine.context import GrabContext
    from netatlas.model import GrabResult

    return budget(GrabContext(Endpoint(HOST, 1), opts, GrabResult()))


def test_versions_list_shape() -> None:
    got = versions_list({"TLSv1.3": True, "TLSv1": False, "SSLv3": False, "TLSv1.2": True})
    assert got == ["-SSLv3", "-TLSv1", "TLSv1.2", "TLSv1.3"]


# -- the lab's nginx endpoints ----------------------------------------------------------


LAB_WANT = {
    "nginx-tls-legacy": (["-SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "-TLSv1.3"],
                         {"NULL", "anonymous"}, "http/1.1"),
    "nginx-tls-modern": (["-TLSv1", "-TLSv1.1", "-TLSv1.2", "TLSv1.3"], set(), "h2"),
    "nginx-https": (["-TLSv1", "-TLSv1.1", "TLSv1.2", "TLSv1.3"], set(), "h2"),
}


@pytest.mark.lab
@pytest.mark.parametrize("name", sorted(LAB_WANT))
async def test_lab_nginx_tls(request: pytest.FixtureRequest, name: str) -> None:
    svc = lab_named(request, name)
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), GrabOptions())
    assert res.status == "success", res.error
    s = res.sections["ssl"]
    versions, weak, alpn = LAB_WANT[name]
    assert s["versions"] == versions
    assert set(s["weak_ciphers"]) == weak
    assert s["alpn"] == alpn
    assert s["hostname"] == svc.ip
    if name == "nginx-tls-legacy":
        c = s["cert"]
        assert c["expired"] is True and c["self_signed"] is False
        assert c["pubkey"] == {"type": "rsa", "bits": 1024}
        assert s["hostname_match"] is False and s["verified"] is False
        assert c["issuer"]["CN"] == "netatlas lab CA"
    else:
        assert s["hostname_match"] is True
        assert s["verify_error"] == "self-signed certificate"
