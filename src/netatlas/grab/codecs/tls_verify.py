"""Would a browser trust this certificate for this name? (sans-IO, ``cryptography``)

Two separate answers, so that each weakness is reported once: ``hostname_match`` (do
the certificate's names cover the name the scan used, an address or a host name) and
``verify_chain`` (does the chain the server sent lead to a root of this machine's trust
store under the web-PKI rules, at the scan's time). The chain is judged against the
certificate's own first name, so a name mismatch never shows up as a chain error.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

# verify_error words that name a weakness reported on its own (tls-self-signed,
# tls-expired): the untrusted check leaves them to those checks.
SELF_SIGNED = "self-signed certificate"
EXPIRED = "certificate has expired"
UNKNOWN_ISSUER = "unable to get local issuer certificate"  # OpenSSL's words for it
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@functools.cache
def trust_store() -> tuple[x509.Certificate, ...]:
    """The system's root certificates (Debian's ca-certificates bundle), parsed once."""
    paths = ssl.get_default_verify_paths()
    for name in (paths.cafile, paths.openssl_cafile):
        if not name:
            continue
        try:
            data = Path(name).read_bytes()
        except OSError:
            continue
        roots = []
        for pem in _PEM_CERT.findall(data):
            try:
                with warnings.catch_warnings():  # a root with a legacy serial is still one
                    warnings.simplefilter("ignore")
                    roots.append(x509.load_pem_x509_certificate(pem))
            except ValueError:
                continue  # one root this parser refuses must not cost the others
        if roots:
            return tuple(roots)
    return ()


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issued by itself and signed by its own key (a name match alone is not enough)."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        return False
    return True


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _dns_match(pattern: str, name: str) -> bool:
    """RFC 6125: exact, or one wildcard as the whole left-most label (``*.a.b``)."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*.") or "*" in pattern[2:] or pattern.count(".") < 2:
        return False
    label, _, rest = name.partition(".")
    return bool(label) and rest == pattern[2:]


def hostname_match(cert: x509.Certificate, name: str) -> bool:
    """Do the certificate's names cover ``name`` (an IP address or a DNS name)?
    The subject CN counts only when there is no SAN extension (OpenSSL's rule)."""
    name = name.strip("[]")
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    san = _san(cert)
    if san is not None:
        if ip is not None:
            return ip in san.get_values_for_type(x509.IPAddress)
        return any(_dns_match(p, name) for p in san.get_values_for_type(x509.DNSName))
    cns = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    if ip is not None:
        return name in cns
    return any(_dns_match(cn, name) for cn in cns)


def _own_name(cert: x509.Certificate) -> x509.verification.Subject | None:
    san = _san(cert)
    if san is None:
        return None
    for dns in san.get_values_for_type(x509.DNSName):
        if "*" not in dns:
            return x509.DNSName(dns)
        return x509.DNSName("a" + dns[1:])  # any name the wildcard covers
    ips = san.get_values_for_type(x509.IPAddress)
    return x509.IPAddress(ips[0]) if ips else None


def _verify_at(leaf: x509.Certificate, rest: list[x509.Certificate], when: datetime,
               roots: tuple[x509.Certificate, ...]) -> str | None:
    if not roots:
        return "no system trust store"
    subject = _own_name(leaf)
    if subject is None:
        return "certificate has no subjectAltName"
    verifier = PolicyBuilder().store(Store(list(roots))).time(when).build_server_verifier(
        subject)
    try:
        verifier.verify(leaf, rest)
    except VerificationError as e:
        text = " ".join(str(e).split()).split(" (encountered processing")[0]
        text = text.removeprefix("validation failed: ")
        if text.endswith("all candidates exhausted with no interior errors"):
            return UNKNOWN_ISSUER  # no issuer found at all, nothing else wrong on the way
        return text[:200] or "verification failed"
    return None


def verify_chain(ders: list[bytes], now: datetime | None = None,
                 roots: tuple[x509.Certificate, ...] | None = None) -> tuple[bool, str | None]:
    """(verified, verify_error) for the chain as sent (leaf first), against ``roots``
    (default: the system trust store). Sans-IO."""
    roots = trust_store() if roots is None else roots
    if not ders:
        return False, "no certificate"
    try:
        certs = [x509.load_der_x509_certificate(d) for d in ders]
    except ValueError as e:
        return False, f"unparsable certificate: {str(e)[:150]}"
    leaf, rest = certs[0], certs[1:]
    now = now or datetime.now(UTC)
    error = _verify_at(leaf, rest, now, roots)
    if error is None:
        return True, None
    if is_self_signed(leaf):
        return False, SELF_SIGNED
    expires = leaf.not_valid_after_utc
    if now > expires:
        # Judged while the certificate was still valid: what is wrong beside its age?
        error = _verify_at(leaf, rest, expires - timedelta(seconds=1), roots)
        if error is None:
            return False, EXPIRED
    return False, error
