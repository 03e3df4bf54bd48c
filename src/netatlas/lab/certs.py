"""The lab's self-signed certificate, made at ``up()`` with the cryptography package."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CERT_CN = "lab.netatlas.test"
_LIFETIME = dt.timedelta(days=365)
_RENEW_BEFORE = dt.timedelta(days=7)


def ensure_cert(cert_path: Path, key_path: Path, ips: list[str]) -> None:
    """Write a key and a self-signed cert for CN=lab.netatlas.test (SANs: that name and
    ``ips``) unless a valid pair is already there (so fingerprints stay stable across
    ``up()`` calls)."""
    if cert_path.exists() and key_path.exists() and _still_valid(cert_path):
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, CERT_CN),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netatlas lab"),
    ])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName(CERT_CN), x509.DNSName(f"*.{CERT_CN}")]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _LIFETIME)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    write_private(key_path, key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    cert_path.chmod(0o644)


def write_private(path: Path, data: bytes, uid: int = -1, gid: int = -1) -> None:
    """Write ``data`` readable only by its owner (created 0600, never briefly wider)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)


def _still_valid(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > _RENEW_BEFORE
