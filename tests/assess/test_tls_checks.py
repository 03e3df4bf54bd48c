"""The TLS checks: on ssl sections captured from the lab's nginx endpoints (exact finding
sets), on near misses (each weakness reported once), and end to end against TLS servers
made here: a broken chain, a 3DES-only answer no local OpenSSL could give, a name
mismatch by host name."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs.tls_verify import EXPIRED, SELF_SIGNED, UNKNOWN_ISSUER
from netatlas.identify import Identifier
from netatlas.lab.certs import ensure_ca, write_leaf
from netatlas.model import Endpoint, Observation
from tests.grab.tlsserver import HOST, self_signed, server_context, tls_server

# Captured with `grab_endpoint` from the lab (NETATLAS_LAB_NET=127.20.16.0/24).
RECORDS = json.loads((Path(__file__).parent / "data" / "tls-lab-records.json").read_text())
TLS_IDS = {"tls-self-signed", "tls-expired", "tls-weak-version", "tls-insecure-cipher",
           "tls-weak-cipher", "tls-hostname-mismatch", "tls-untrusted", "tls-short-key"}


def obs(ssl_section: dict[str, Any], http: dict[str, Any] | None = None) -> Observation:
    return Observation(ip="127.20.16.9", port=443, transport="tcp",
                       timestamp=datetime(2026, 11, 29, tzinfo=UTC), scan_id="s",
                       service="http", product="nginx", data=b"",
                       sections={"ssl": ssl_section, "http": http or {"status": 200}})


def ids(o: Observation) -> set[str]:
    return {f.id for f in assess(o)}


@pytest.mark.parametrize(("name", "want"), [
    # scanned by address: a certificate for another name is not flagged (see below)
    ("nginx-tls-legacy", {"tls-expired", "tls-weak-version", "tls-insecure-cipher",
                          "tls-untrusted", "tls-short-key"}),
    ("nginx-tls-modern", {"tls-self-signed"}),
    ("nginx-https", {"tls-self-signed"}),
])
def test_captured_lab_records(name: str, want: set[str]) -> None:
    assert ids(obs(RECORDS[name]["ssl"])) == want


def test_evidence_and_severity() -> None:
    found = {f.id: f for f in assess(obs(legacy(hostname="legacy.lab.test")))}
    assert found["tls-weak-version"].evidence == "accepts TLSv1, TLSv1.1 (best 'TLSv1.2')"
    assert found["tls-insecure-cipher"].severity == "high"
    assert "NULL (NULL-SHA)" in found["tls-insecure-cipher"].evidence
    assert "legacy.example.test" in found["tls-hostname-mismatch"].evidence
    assert found["tls-untrusted"].severity == "medium"


def legacy(**changes: Any) -> dict[str, Any]:
    return {**RECORDS["nginx-tls-legacy"]["ssl"], **changes}


@pytest.mark.parametrize(("check", "section"), [
    # only the negotiated version is known (an older record): still reported
    ("tls-weak-version", {"version": "TLSv1", "cert": None}),
    ("tls-weak-version", {"version": "TLSv1.2", "versions": ["SSLv3", "TLSv1.2"]}),
    ("tls-weak-cipher", {"version": "TLSv1.2",
                         "weak_ciphers": {"3DES": {"cipher": "DES-CBC3-SHA"}}}),
    ("tls-weak-cipher", {"version": "TLSv1.2", "cipher": {"name": "DES-CBC3-SHA"}}),
    ("tls-insecure-cipher", {"version": "TLSv1.2", "cipher": {"name": "RC4-SHA"}}),
    ("tls-insecure-cipher", {"weak_ciphers": {"EXPORT": {"cipher": "EXP-RC4-MD5"}}}),
])
def test_recall_variants(check: str, section: dict[str, Any]) -> None:
    assert check in ids(obs(section))


@pytest.mark.parametrize(("check", "section"), [
    ("tls-weak-version", {"version": "TLSv1.3",
                          "versions": ["-SSLv3", "-TLSv1", "-TLSv1.1", "TLSv1.3"]}),
    ("tls-weak-cipher", {"weak_ciphers": {"NULL": {"cipher": "NULL-SHA"}}}),
    ("tls-insecure-cipher", {"weak_ciphers": {}, "cipher": {"name": "AES128-SHA"}}),
    # each certificate fault is reported once, by its own check
    ("tls-untrusted", legacy(verify_error=SELF_SIGNED)),
    ("tls-untrusted", legacy(verify_error=EXPIRED)),
    ("tls-untrusted", legacy(verify_error="no system trust store")),
    ("tls-untrusted", legacy(cert={**legacy()["cert"], "self_signed": True})),
    ("tls-untrusted", legacy(verified=True, verify_error=None)),
    ("tls-hostname-mismatch", legacy(hostname_match=None)),
    ("tls-hostname-mismatch", legacy()),  # reached by its IP address, not a name
    ("tls-hostname-mismatch", {k: v for k, v in legacy().items() if k != "hostname_match"}),
])
def test_near_misses(check: str, section: dict[str, Any]) -> None:
    assert check not in ids(obs(section))


def test_malformed_ssl_sections() -> None:
    for bad in ({"versions": "TLSv1", "weak_ciphers": ["NULL"], "verified": "no"},
                {"weak_ciphers": {"NULL": "x"}, "cipher": "RC4"},
                {"hostname_match": 0, "verify_error": 5, "verified": False}):
        found = ids(obs(bad))
        assert found <= {"tls-insecure-cipher"}, found  # a class named is still a class


# -- end to end against servers made here -------------------------------------------------

async def observe(port: int, opts: GrabOptions) -> Observation:
    ep = Endpoint(HOST, port)
    res = await grab_endpoint(ep, opts)
    assert res.status == "success", res.error
    return Observation.build(ep, "t", res, Identifier().identify(res, ep))


@pytest.fixture
def fast() -> GrabOptions:
    return GrabOptions(banner_wait=0.3, read_timeout=1.0, connect_timeout=1.0,
                       total_timeout=6.0)


async def test_broken_chain_is_untrusted(tmp_path: Path, fast: GrabOptions) -> None:
    """A leaf from a private CA, sent with an unrelated certificate as its 'chain'."""
    ca = ensure_ca(tmp_path / "ca.crt", tmp_path / "ca.key")
    now = datetime.now(UTC)
    from datetime import timedelta

    write_leaf(tmp_path / "l.crt", tmp_path / "l.key", cn="tls.lab.test",
               dns=["tls.lab.test"], ips=[HOST], key_bits=2048,
               not_before=now - timedelta(days=1), not_after=now + timedelta(days=30),
               issuer=ca)
    stranger, _ = self_signed(tmp_path, name="stranger.test")
    ctx = server_context(tmp_path / "l.crt", tmp_path / "l.key", low=ssl.TLSVersion.TLSv1_2,
                         chain=stranger)
    with tls_server(ctx) as srv:
        o = await observe(srv.port, fast)
    s = o.sections["ssl"]
    assert s["chain_length"] == 2 and s["verified"] is False
    assert s["verify_error"] == UNKNOWN_ISSUER
    assert ids(o) == {"tls-untrusted"}


async def test_3des_answer_is_a_weak_cipher(tmp_path: Path, fast: GrabOptions) -> None:
    ctx = server_context(*self_signed(tmp_path), low=ssl.TLSVersion.TLSv1_2,
                         high=ssl.TLSVersion.TLSv1_2)
    with tls_server(ctx, "fake-3des") as srv:
        o = await observe(srv.port, fast)
    assert o.sections["ssl"]["weak_ciphers"] == {
        "3DES": {"cipher": "DES-CBC3-SHA", "version": "TLSv1.2"}}
    assert ids(o) == {"tls-self-signed", "tls-weak-cipher"}


@pytest.mark.parametrize(("host", "mismatch"), [("tls.lab.test", False),
                                                ("www.other.test", True)])
async def test_name_the_scan_used(tmp_path: Path, fast: GrabOptions, host: str,
                                  mismatch: bool) -> None:
    ctx = server_context(*self_signed(tmp_path), low=ssl.TLSVersion.TLSv1_2)
    fast.host_header = host
    with tls_server(ctx) as srv:
        o = await observe(srv.port, fast)
    assert o.sections["ssl"]["hostname"] == host
    assert ("tls-hostname-mismatch" in ids(o)) is mismatch
    assert ids(o) - {"tls-hostname-mismatch"} == {"tls-self-signed"}


def test_every_tls_check_is_covered_here() -> None:
    from netatlas.assess.checks.tls import CHECKS

    assert {c.id for c in CHECKS} == TLS_IDS


def test_every_weak_class_has_a_check() -> None:
    from netatlas.assess.checks import tls
    from netatlas.grab.codecs import tls_hello

    assert set(tls.INSECURE_CLASSES) | set(tls.WEAK_CLASSES) == set(tls_hello.WEAK_CLASSES)
    assert not set(tls.INSECURE_CLASSES) & set(tls.WEAK_CLASSES)
