"""TLS certificate and protocol weaknesses, from the ssl section.

Each weakness is reported once, by the check that names it: a self-signed certificate
is tls-self-signed (not also tls-untrusted), an expired one tls-expired; tls-untrusted is
left for chains that fail for another reason (a private or unknown CA, a missing
intermediate, a certificate the web-PKI rules refuse). Severities follow testssl.sh's
scale, squeezed to ours: protocols and ciphers that give no confidentiality at all
(NULL, anonymous, EXPORT, RC4, single DES) high; deprecated ones (TLS 1.0/1.1, SSLv3,
3DES) and certificate problems medium; a self-signed certificate low.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ...grab.codecs.tls_hello import weak_classes
from ...grab.codecs.tls_verify import EXPIRED, SELF_SIGNED
from ...model import Observation
from ._base import Check, quote, sec

WEAK_TLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
INSECURE_CLASSES = ("NULL", "anonymous", "EXPORT", "RC4", "DES")
WEAK_CLASSES = ("3DES",)
# Errors that say nothing about the server: this machine had nothing to judge with.
_NOT_JUDGED = ("no system trust store",)


def _ssl(obs: Observation) -> dict[str, Any]:
    return sec(obs, "ssl")


def _cert(obs: Observation) -> dict[str, Any]:
    c = _ssl(obs).get("cert")
    return c if isinstance(c, dict) else {}


def tls_self_signed(obs: Observation) -> str | None:
    c = _cert(obs)
    if c.get("self_signed") is True:
        cn = (c.get("subject") or {}).get("CN")
        return f"certificate self-signed (subject CN {quote(cn)})"
    return None


def tls_expired(obs: Observation) -> str | None:
    c = _cert(obs)
    if c.get("expired") is True:
        return f"certificate expired {quote(c.get('expires'))}"
    return None


def tls_weak_version(obs: Observation) -> str | None:
    s = _ssl(obs)
    versions = s.get("versions")
    accepted = [v for v in versions if v in WEAK_TLS] if isinstance(versions, list) else []
    if accepted:
        return f"accepts {', '.join(accepted)} (best {quote(s.get('version'))})"
    if s.get("version") in WEAK_TLS:
        return f"negotiated {s['version']} as the best version"
    return None


def _classes(obs: Observation) -> dict[str, str]:
    """Weak class -> the suite that showed it: the probes' finds and the suite the
    first handshake itself settled on."""
    s = _ssl(obs)
    out: dict[str, str] = {}
    weak = s.get("weak_ciphers")
    if isinstance(weak, dict):
        for cls, info in weak.items():
            name = info.get("cipher") if isinstance(info, dict) else None
            out[str(cls)] = str(name or "?")
    cipher = s.get("cipher")
    name = cipher.get("name") if isinstance(cipher, dict) else None
    for cls in weak_classes(name if isinstance(name, str) else None):
        out.setdefault(cls, f"{name} (negotiated)")
    return out


def _cipher_evidence(obs: Observation, classes: tuple[str, ...]) -> str | None:
    found = {c: n for c, n in _classes(obs).items() if c in classes}
    if not found:
        return None
    return "accepts " + ", ".join(f"{c} ({n})" for c, n in sorted(found.items()))


def tls_insecure_cipher(obs: Observation) -> str | None:
    return _cipher_evidence(obs, INSECURE_CLASSES)


def tls_weak_cipher(obs: Observation) -> str | None:
    return _cipher_evidence(obs, WEAK_CLASSES)


def tls_hostname_mismatch(obs: Observation) -> str | None:
    """Only when the scan reached the service by a host name: a certificate that does
    not name the bare address it was reached at is the norm, not a weakness."""
    s = _ssl(obs)
    if s.get("hostname_match") is not False or _is_address(s.get("hostname")):
        return None
    c = _cert(obs)
    names = c.get("san") or [(c.get("subject") or {}).get("CN")]
    return f"certificate names {quote(names)} do not cover {quote(s.get('hostname'))}"


def _is_address(name: object) -> bool:
    try:
        ipaddress.ip_address(str(name))
    except ValueError:
        return False
    return True


def tls_untrusted(obs: Observation) -> str | None:
    s = _ssl(obs)
    error = s.get("verify_error")
    if s.get("verified") is not False or not isinstance(error, str):
        return None
    if error in (SELF_SIGNED, EXPIRED, *_NOT_JUDGED) or _cert(obs).get("self_signed") is True:
        return None  # reported by tls-self-signed / tls-expired, or nothing to judge
    issuer = (_cert(obs).get("issuer") or {}).get("CN")
    return f"chain does not verify ({quote(error, 100)}), issuer CN {quote(issuer)}"


def tls_short_key(obs: Observation) -> str | None:
    key = _cert(obs).get("pubkey") or {}
    bits = key.get("bits")
    if key.get("type") in ("rsa", "dsa") and isinstance(bits, int) and 0 < bits < 2048:
        return f"{key['type'].upper()} key of {bits} bits"
    return None


CHECKS: tuple[Check, ...] = (
    Check("tls-self-signed", "low", "Self-signed TLS certificate", tls_self_signed),
    Check("tls-expired", "medium", "Expired TLS certificate", tls_expired),
    Check("tls-weak-version", "medium", "Weak TLS protocol version", tls_weak_version),
    Check("tls-insecure-cipher", "high",
          "TLS cipher without confidentiality (NULL, anonymous, EXPORT, RC4, DES)",
          tls_insecure_cipher),
    Check("tls-weak-cipher", "medium", "TLS 64-bit block cipher (3DES, SWEET32)",
          tls_weak_cipher),
    Check("tls-hostname-mismatch", "medium",
          "TLS certificate does not match the scanned name", tls_hostname_mismatch),
    Check("tls-untrusted", "medium", "TLS certificate chain not trusted", tls_untrusted),
    Check("tls-short-key", "medium", "TLS certificate key shorter than 2048 bits",
          tls_short_key),
)
