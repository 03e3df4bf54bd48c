"""TLS certificate and protocol weaknesses, from the ssl section."""

from __future__ import annotations

from typing import Any

from ...model import Observation
from ._base import Check, quote, sec

WEAK_TLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")


def _cert(obs: Observation) -> dict[str, Any]:
    c = sec(obs, "ssl").get("cert")
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
    version = sec(obs, "ssl").get("version")
    if version in WEAK_TLS:
        return f"negotiated {version} as the best version"
    return None


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
    Check("tls-short-key", "medium", "TLS certificate key shorter than 2048 bits",
          tls_short_key),
)
