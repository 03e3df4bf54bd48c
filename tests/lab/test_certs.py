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
