"""The lab's certificates, made at ``up()`` with the cryptography package (never
committed): the shared self-signed one, and the deliberately weak ones of tls_sites."""

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
    if cert_path.exists() and key_path.exists() and _still_valid(cert_path, ips):
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


def _still_valid(cert_path: Path, ips: list[str] | None = None) -> bool:
    """Not about to expire, and naming every address asked for (the catalogue grows:
    a cert made before a new endpoint was added would not match that endpoint)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    if ips:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        have = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
        if not set(ips) <= have:
            return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > _RENEW_BEFORE


# -- certificates with weaknesses on purpose (lab/tls_sites.py) ----------------------------

LAB_CA_CN = "netatlas lab CA"


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def ensure_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A private root CA (in no trust store): what it signs is untrusted, not self-signed."""
    if cert_path.exists() and key_path.exists() and _still_valid(cert_path):
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        if isinstance(key, rsa.RSAPrivateKey):
            return cert, key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LAB_CA_CN),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netatlas lab")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1000)).not_valid_after(now + _LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    cert_path.chmod(0o644)
    return cert, key


def write_leaf(cert_path: Path, key_path: Path, *, cn: str, dns: list[str], ips: list[str],
               key_bits: int, not_before: dt.datetime, not_after: dt.datetime,
               issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None) -> None:
    """A server certificate exactly as asked (short key, past dates, other names...),
    signed by ``issuer`` or by itself. Always made anew: it is cheap and never reused."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netatlas lab")])
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signer.public_key()), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    cert_path.chmod(0o644)
