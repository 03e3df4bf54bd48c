"""TLS facts: negotiated version, cipher, ALPN, and the peer certificate parsed from
DER with ``cryptography``. The handshake never verifies (broken chains are recorded, not
refused); trust and the name are judged afterwards from the chain (``tls_verify``), and
the accepted versions and weak ciphers by extra short handshakes (``tls_probes``)."""

from __future__ import annotations

import _ssl
import hashlib
import ssl
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from ..codecs.tls_verify import hostname_match, is_self_signed, verify_chain
from ..engine.context import GrabContext
from ..engine.registry import Protocol


def _name(name: x509.Name) -> dict[str, str]:
    out: dict[str, str] = {}
    for attr in name:
        try:
            key = attr.rfc4514_attribute_name
        except Exception:
            key = attr.oid.dotted_string
        value = attr.value if isinstance(attr.value, str) else attr.value.hex()
        # Repeated attributes (two OUs) keep all values, like Shodan's joined form.
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _pubkey(cert: x509.Certificate) -> dict[str, Any]:
    try:
        key = cert.public_key()
    except Exception as e:  # unsupported or malformed key: record the algorithm OID
        return {"type": "unknown", "bits": 0, "error": str(e)[:200]}
    if isinstance(key, rsa.RSAPublicKey):
        return {"type": "rsa", "bits": key.key_size}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"type": "ec", "bits": key.curve.key_size, "curve": key.curve.name}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {"type": "ed25519", "bits": 256}
    if isinstance(key, ed448.Ed448PublicKey):
        return {"type": "ed448", "bits": 456}
    if isinstance(key, dsa.DSAPublicKey):
        return {"type": "dsa", "bits": key.key_size}
    return {"type": type(key).__name__.lower(), "bits": 0}


def _san(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    names: list[str] = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    names += [str(n) for n in ext.get_values_for_type(x509.RFC822Name)]
    return names


def cert_facts(der: bytes, now: datetime | None = None) -> dict[str, Any]:
    """Parse one DER certificate (sans-IO). Raises ValueError on garbage."""
    cert = x509.load_der_x509_certificate(der)
    now = now or datetime.now(UTC)
    oid = cert.signature_algorithm_oid
    issued, expires = cert.not_valid_before_utc, cert.not_valid_after_utc
    return {
        "subject": _name(cert.subject),
        "issuer": _name(cert.issuer),
        "serial": format(cert.serial_number, "x"),
        "sig_alg": getattr(oid, "_name", None) or oid.dotted_string,
        "issued": issued.isoformat(),
        "expires": expires.isoformat(),
        "expired": now > expires,
        "self_signed": is_self_signed(cert),
        "san": _san(cert),
        "fingerprint": {
            "sha1": hashlib.sha1(der).hexdigest(),
            "sha256": hashlib.sha256(der).hexdigest(),
        },
        "pubkey": _pubkey(cert),
        "version": cert.version.name,
    }


def _chain(sslobj: ssl.SSLObject) -> list[bytes] | None:
    """The certificates the server sent, leaf first, as DER (None: not available).
    Public in Python 3.13 (get_unverified_chain); on 3.11 the C object has it privately."""
    for obj in (sslobj, getattr(sslobj, "_sslobj", None)):
        fn = getattr(obj, "get_unverified_chain", None)
        if fn is not None:
            try:
                return [c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER)
                        for c in fn() or []]
            except Exception:
                return None
    return None


def trust_facts(ders: list[bytes], hostname: str | None) -> dict[str, Any]:
    """Chain verification against the system trust store and the name check (sans-IO)."""
    verified, error = verify_chain(ders)
    facts: dict[str, Any] = {"verified": verified, "verify_error": error}
    if hostname:
        facts["hostname"] = hostname
        try:
            facts["hostname_match"] = hostname_match(x509.load_der_x509_certificate(ders[0]),
                                                     hostname)
        except (ValueError, IndexError):
            facts["hostname_match"] = None
    return facts


def tls_section(sslobj: ssl.SSLObject, hostname: str | None = None) -> dict[str, Any]:
    """Facts from a completed handshake; ``hostname`` is the name the scan used (an
    address or a host name), checked against the certificate's names."""
    name, proto, bits = sslobj.cipher() or (None, None, None)
    chain = _chain(sslobj)
    section: dict[str, Any] = {
        "version": sslobj.version(),
        "cipher": {"name": name, "bits": bits, "version": proto},
        "alpn": sslobj.selected_alpn_protocol(),
        "cert": None,
        "chain_length": None if chain is None else len(chain),
    }
    der = sslobj.getpeercert(binary_form=True)
    if der:
        try:
            section["cert"] = cert_facts(der)
        except Exception as e:  # a certificate cryptography cannot parse is a fact too
            section["cert_error"] = str(e)[:200]
            section["cert_sha256"] = hashlib.sha256(der).hexdigest()
        section.update(trust_facts(chain or [der], hostname))
    return section


def record_tls(ctx: GrabContext, sslobj: ssl.SSLObject) -> None:
    ctx.tls = True
    ctx.result.tls = True
    ctx.result.sections["ssl"] = tls_section(sslobj, ctx.hostname)


# A layer, not a probe: detect (engine/detect.py) does the handshake and detects again
# inside; ``tls_ports`` of the other protocols say what to try first in there.
PROTOCOL = Protocol(
    name="tls", ports=(443, 465, 636, 853, 993, 995, 2376, 3269, 4443, 5671, 6443, 8443, 8883,
                       9443, 10443),
    unhinted="in-order", nmap_names=("ssl",))
