"""Address terms as conditions on the ``inet`` column, in the SQLite store's order.

The SQLite store compares 16-byte keys with IPv4 mapped into ``::ffff:0:0/96``
(``query.ipbin``), so ``::1`` sorts below every IPv4 address and ``ip:[127.0.0.1 TO *]``
also reaches the IPv6 addresses above the mapped block. PostgreSQL orders every IPv4
address below every IPv6 one. To give the same answers, a span of that byte order is cut
into at most two inet ranges: its IPv6 part (same 128-bit order) and its part inside the
mapped block, as IPv4. Stored IPv4-mapped addresses are kept as IPv4 (``stored_form``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from typing import Any

from netatlas.query.ast import Term
from netatlas.query.ipbin import ip_to_bin

_V4_LO = int.from_bytes(ip_to_bin("0.0.0.0"), "big")
_V4_HI = int.from_bytes(ip_to_bin("255.255.255.255"), "big")
_TOP = 2**128 - 1
_COL = "o.ip"


def stored_form(ip: str) -> str:
    """The inet text an address is stored as (IPv4-mapped IPv6 as plain IPv4)."""
    if ":" not in ip:
        with contextlib.suppress(OSError):
            socket.inet_pton(socket.AF_INET, ip)  # every row passes here: the fast path
            return ip
    addr = ipaddress.ip_address(ip.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _key(ip: str) -> int:
    return int.from_bytes(ip_to_bin(ip), "big")


def _v6(n: int) -> str:
    return str(ipaddress.IPv6Address(n))


def _v4(n: int) -> str:
    return str(ipaddress.IPv4Address(n - _V4_LO))


def _between(lo: str, hi: str, params: list[Any]) -> str:
    if lo == hi:
        params.append(lo)
        return f"{_COL} = %s::inet"
    params += [lo, hi]
    return f"{_COL} BETWEEN %s::inet AND %s::inet"


def span(lo: int, hi: int, params: list[Any]) -> str:
    """Addresses whose byte key lies in [lo, hi]."""
    if lo > hi:
        return "false"
    parts = []
    if not (lo >= _V4_LO and hi <= _V4_HI):
        # every IPv4 value sorts below an IPv6 bound, so this part holds IPv6 only
        parts.append(_between(_v6(lo), _v6(hi), params))
    a, b = max(lo, _V4_LO), min(hi, _V4_HI)
    if a <= b:
        parts.append(_between(_v4(a), _v4(b), params))
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def network(cidr: str, params: list[Any]) -> str:
    """Containment in a network; an IPv6 network over the mapped block holds IPv4 too."""
    net = ipaddress.ip_network(cidr.strip(), strict=False)
    if isinstance(net, ipaddress.IPv4Network):
        params.append(str(net))
        return f"{_COL} <<= %s::inet"
    first, last = int(net.network_address), int(net.broadcast_address)
    if first >= _V4_LO and last <= _V4_HI:  # inside ::ffff:0:0/96: an IPv4 network
        v4 = ipaddress.IPv4Network((first - _V4_LO, net.prefixlen - 96))
        params.append(str(v4))
        return f"{_COL} <<= %s::inet"
    params.append(str(net))
    if first <= _V4_LO and last >= _V4_HI:  # the whole mapped block inside
        return f"({_COL} <<= %s::inet OR family({_COL}) = 4)"
    return f"{_COL} <<= %s::inet"


def condition(t: Term, params: list[Any]) -> str:
    """An ``ip:`` / ``net:`` term (eq on addresses and networks, comparisons, ranges)."""
    if t.op == "eq":
        parts = []
        for v in t.values:
            if "/" in v:
                parts.append(network(v, params))
            else:
                k = _key(v)
                parts.append(span(k, k, params))
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    if t.op == "range":
        lo, hi = t.values
        if lo is None and hi is None:
            return f"{_COL} IS NOT NULL"
        return span(0 if lo is None else _key(lo), _TOP if hi is None else _key(hi), params)
    k = _key(t.values[0])
    lo, hi = {"lt": (0, k - 1), "le": (0, k), "gt": (k + 1, _TOP), "ge": (k, _TOP)}[t.op]
    return span(lo, hi, params)
