"""Fast integer -> address text, matching ``str(ipaddress.ip_address(...))``."""

from __future__ import annotations

import ipaddress
import socket

_AF6 = socket.AF_INET6
_ntop = socket.inet_ntop
_ntoa = socket.inet_ntoa


def v4_text(value: int) -> str:
    return _ntoa(value.to_bytes(4, "big"))


def v6_text(value: int) -> str:
    # inet_ntop writes ::ffff:1.2.3.4 and ::1.2.3.4 where ipaddress (our canonical
    # form) writes hex groups; those two /96s take the slow path.
    if value >> 32 in (0, 0xFFFF):
        return str(ipaddress.IPv6Address(value))
    return _ntop(_AF6, value.to_bytes(16, "big"))


def ip_text(version: int, value: int) -> str:
    return v4_text(value) if version == 4 else v6_text(value)
