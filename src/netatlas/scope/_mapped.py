"""IPv4-mapped IPv6 (``::ffff:a.b.c.d``) is the IPv4 host a.b.c.d on a dual-stack
socket: every scope decision is taken on the IPv4 form, so that allowing
``::ffff:0:0/96`` cannot reach an address the IPv4 deny list refuses. Only this form
is translated: NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 host only
through a translator, and stay IPv6 (the reserved list denies them unless allowed)."""

from __future__ import annotations

import ipaddress

from . import _intervals as iv
from .targets import TargetEntry, Targets

MAPPED_FIRST = 0xFFFF << 32
MAPPED_LAST = MAPPED_FIRST | 0xFFFF_FFFF

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalise_ip(addr: IP) -> IP:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def normalise_entry(entry: TargetEntry) -> list[TargetEntry]:
    """``entry`` with its IPv4-mapped part (if any) as an IPv4 entry of the same spec."""
    if entry.version == 4 or entry.last < MAPPED_FIRST or entry.first > MAPPED_LAST:
        return [entry]
    first, last = max(entry.first, MAPPED_FIRST), min(entry.last, MAPPED_LAST)
    out = [TargetEntry(entry.spec, 4, first - MAPPED_FIRST, last - MAPPED_FIRST)]
    for a, b in iv.subtract([(entry.first, entry.last)], [(first, last)]):
        out.append(TargetEntry(entry.spec, 6, a, b))
    return out


def normalise_entries(entries: tuple[TargetEntry, ...] | list[TargetEntry]
                      ) -> list[TargetEntry]:
    return [n for e in entries for n in normalise_entry(e)]


def normalise_targets(targets: Targets) -> Targets:
    """``targets`` with every IPv4-mapped address moved to IPv4."""
    mapped = iv.intersect(targets.v6, [(MAPPED_FIRST, MAPPED_LAST)])
    if not mapped and all(e.version == 4 or e.last < MAPPED_FIRST or e.first > MAPPED_LAST
                          for e in targets.entries):
        return targets
    return Targets(
        v4=iv.merge([*targets.v4, *((a - MAPPED_FIRST, b - MAPPED_FIRST) for a, b in mapped)]),
        v6=iv.subtract(targets.v6, mapped),
        hostnames=dict(targets.hostnames),
        entries=tuple(normalise_entries(targets.entries)),
    )
