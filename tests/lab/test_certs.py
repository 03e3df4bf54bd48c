from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from netatlas.lab.certs import CERT_CN, ensure_cert


def test_self_signed_cert_for_the_lab(tmp_path: Path) -> None:
    crt, key = tmp_path / "lab.crt", tmp_path / "lab.key"
    ensure_cert(crt, key, ["127.20.0.2"])
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CERT_CN
    assert cert.issuer == cert.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert CERT_CN in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.20.0.2") in san.get_values_for_type(x509.IPAddress)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # a second call keeps the same pair: fingerprints stay stable across up()
    before = crt.read_bytes()
    ensure_cert(crt, key, ["127.20.0.2"])
    assert crt.read_bytes() == before


def test_cert_is_remade_for_a_new_address(tmp_path: Path) -> None:
    # the catalogue grew: a cert that does not name the new endpoint would mismatch it
    crt, key = tmp_path / "lab.crt", tmp_path / "lab.key"
    ensure_cert(crt, key, ["127.20.0.2"])
    before = crt.read_bytes()
    ensure_cert(crt, key, ["127.20.0.2", "127.20.0.61"])
    assert crt.read_bytes() != before
    san = x509.load_pem_x509_certificate(crt.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.20.0.61") in san.get_values_for_type(x509.IPAddress)


def test_weak_leaf_signed_by_the_private_ca(tmp_path: Path) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import rsa

    from netatlas.lab.certs import LAB_CA_CN, ensure_ca, write_leaf

    ca = ensure_ca(tmp_path / "ca.crt", tmp_path / "ca.key")
    assert ensure_ca(tmp_path / "ca.crt", tmp_path / "ca.key")[0] == ca[0]  # kept
    now = dt.datetime.now(dt.UTC)
    write_leaf(tmp_path / "l.crt", tmp_path / "l.key", cn="legacy.example.test",
               dns=["legacy.example.test"], ips=[], key_bits=1024,
               not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=30),
               issuer=ca)
    leaf = x509.load_pem_x509_certificate((tmp_path / "l.crt").read_bytes())
    key = leaf.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024
    assert leaf.not_valid_after_utc < now
    assert leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == LAB_CA_CN
    leaf.verify_directly_issued_by(ca[0])
    assert stat.S_IMODE((tmp_path / "l.key").stat().st_mode) == 0o600
