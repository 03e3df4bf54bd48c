"""Chain trust and name checks on certificates made here (sans-IO): each weakness gets
its own answer, so the checks can report it once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from netatlas.grab.codecs.tls_verify import (
    EXPIRED,
    SELF_SIGNED,
    UNKNOWN_ISSUER,
    hostname_match,
    is_self_signed,
    trust_store,
    verify_chain,
)
from netatlas.lab.certs import ensure_ca, write_leaf

NOW = dt.datetime.now(dt.UTC)


def pem_to_der(path: Path) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def leaf(tmp: Path, name: str = "site", *, ca: bool = True, days: tuple[int, int] = (-1, 30),
         dns: tuple[str, ...] = ("www.example.test", "*.apps.example.test"),
         ips: tuple[str, ...] = ("127.20.16.9",), bits: int = 2048) -> bytes:
    issuer = ensure_ca(tmp / "ca.crt", tmp / "ca.key") if ca else None
    write_leaf(tmp / f"{name}.crt", tmp / f"{name}.key", cn=dns[0] if dns else "cn.example.test",
               dns=list(dns), ips=list(ips), key_bits=bits,
               not_before=NOW + dt.timedelta(days=days[0]),
               not_after=NOW + dt.timedelta(days=days[1]), issuer=issuer)
    return pem_to_der(tmp / f"{name}.crt")


def roots(tmp: Path) -> tuple[x509.Certificate, ...]:
    return (x509.load_pem_x509_certificate((tmp / "ca.crt").read_bytes()),)


def test_chain_to_a_known_root_verifies(tmp_path: Path) -> None:
    der = leaf(tmp_path)
    assert verify_chain([der], roots=roots(tmp_path)) == (True, None)


def test_unknown_ca_is_untrusted_not_self_signed(tmp_path: Path) -> None:
    der = leaf(tmp_path)
    ok, error = verify_chain([der])  # the system store does not know the lab CA
    assert (ok, error) == (False, UNKNOWN_ISSUER)
    assert not is_self_signed(x509.load_der_x509_certificate(der))


def test_self_signed_is_named_as_such(tmp_path: Path) -> None:
    der = leaf(tmp_path, ca=False)
    assert verify_chain([der]) == (False, SELF_SIGNED)
    # expired and self-signed: both facts exist, the trust answer names self-signed
    old = leaf(tmp_path, "old", ca=False, days=(-60, -1))
    assert verify_chain([old]) == (False, SELF_SIGNED)


def test_expired_with_good_chain_is_only_expired(tmp_path: Path) -> None:
    der = leaf(tmp_path, days=(-60, -2))
    assert verify_chain([der], roots=roots(tmp_path)) == (False, EXPIRED)
    # ... and with an unknown issuer the other fault is what trust reports
    ok, error = verify_chain([der])
    assert ok is False and error not in (EXPIRED, SELF_SIGNED)


def test_short_key_is_not_a_chain_error(tmp_path: Path) -> None:
    # a 1024-bit leaf under a known root verifies: tls-short-key reports the key alone
    der = leaf(tmp_path, bits=1024)
    assert verify_chain([der], roots=roots(tmp_path)) == (True, None)


def test_garbage_and_empty_chains() -> None:
    assert verify_chain([]) == (False, "no certificate")
    ok, error = verify_chain([b"\x30\x03\x02\x01\x00"])
    assert ok is False and error and error.startswith("unparsable")


def test_no_trust_store_is_said(tmp_path: Path) -> None:
    der = leaf(tmp_path)
    assert verify_chain([der], roots=()) == (False, "no system trust store")


def test_system_trust_store_loads() -> None:
    store = trust_store()
    if not store:
        pytest.skip("no CA bundle on this machine")
    assert len(store) > 50


@pytest.mark.parametrize(("name", "want"), [
    ("www.example.test", True),
    ("WWW.Example.Test.", True),
    ("a.apps.example.test", True),
    ("apps.example.test", False),  # a wildcard needs its label
    ("a.b.apps.example.test", False),  # and covers one label only
    ("example.test", False),
    ("127.20.16.9", True),
    ("127.20.16.10", False),
    ("[::1]", False),
])
def test_hostname_match(tmp_path: Path, name: str, want: bool) -> None:
    cert = x509.load_der_x509_certificate(leaf(tmp_path))
    assert hostname_match(cert, name) is want


def test_hostname_cn_only_without_san(tmp_path: Path) -> None:
    cert = x509.load_der_x509_certificate(leaf(tmp_path, dns=(), ips=()))
    assert hostname_match(cert, "cn.example.test") is True
    assert hostname_match(cert, "other.example.test") is False
    # a SAN present: the CN no longer counts (OpenSSL's and the browsers' rule)
    with_san = x509.load_der_x509_certificate(leaf(tmp_path, "s", dns=("a.test",), ips=()))
    assert hostname_match(with_san, "a.test") and not hostname_match(with_san, "b.test")
