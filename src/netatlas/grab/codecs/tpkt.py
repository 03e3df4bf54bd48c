"""TPKT (RFC 1006) and COTP (ISO 8073) as RDP and S7 both carry them (sans-IO): just
enough to tell their connection confirms apart in replies to someone else's probe."""

from __future__ import annotations

from collections.abc import Iterable


def connection_confirms(replies: Iterable[bytes]) -> list[bytes]:
    """The replies that are a TPKT-framed COTP connection confirm (CC, 0xD0)."""
    return [r for r in replies if r[:2] == b"\x03\x00" and len(r) >= 7 and r[5] == 0xD0]


def rdp_negotiation(confirm: bytes) -> bool:
    """Does this connection confirm carry an RDP negotiation response (or failure)?"""
    return len(confirm) >= 19 and confirm[11] in (0x02, 0x03)
