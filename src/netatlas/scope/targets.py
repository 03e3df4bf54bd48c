"""Target syntax: addresses, CIDRs, dash ranges and host names -> integer intervals.

``parse_targets(["127.20.0.0/24", "127.20.1.1-50", "localhost"])`` yields a ``Targets``
holding merged intervals per IP version; nothing is ever expanded to a list of
addresses. Host names are resolved once, here, and the ip -> names mapping kept so
later stages can label what they find.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from . import _intervals as iv
from ._addr import ip_text
from .errors import ScopeError

Interval = tuple[int, int]

_MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}

# RFC 1123 labels (underscore tolerated: it occurs in real internal names).
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_ADDRESS_LIKE = re.compile(r"[0-9.\-]+")
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}\.?$){_LABEL}(?:\.{_LABEL})*\.?$")


@dataclass(frozen=True, slots=True)
class TargetEntry:
    """One parsed item, kept with the text that produced it for error messages."""

    spec: str
    version: Literal[4, 6]
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(slots=True)
class Targets:
    """Merged address intervals per IP version plus what host names resolved to."""

    v4: list[Interval] = field(default_factory=list)
    v6: list[Interval] = field(default_factory=list)
    hostnames: dict[str, list[str]] = field(default_factory=dict)
    entries: tuple[TargetEntry, ...] = ()

    @classmethod
    def from_entries(
        cls, entries: Iterable[TargetEntry], hostnames: dict[str, list[str]] | None = None
    ) -> Targets:
        entries = tuple(entries)
        return cls(
            v4=iv.merge((e.first, e.last) for e in entries if e.version == 4),
            v6=iv.merge((e.first, e.last) for e in entries if e.version == 6),
            hostnames=dict(hostnames or {}),
            entries=entries,
        )

    @property
    def size(self) -> int:
        """Number of distinct addresses."""
        return iv.total(self.v4) + iv.total(self.v6)

    def intervals(self, version: int) -> list[Interval]:
        return self.v4 if version == 4 else self.v6

    def __contains__(self, ip: object) -> bool:
        try:
            addr = ipaddress.ip_address(ip)  # type: ignore[arg-type]
        except ValueError:
            return False
        return iv.contains(self.intervals(addr.version), int(addr))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def addresses(self) -> Iterator[str]:
        """Every address in order, lazily (for small sets and tests)."""
        for version, intervals in ((4, self.v4), (6, self.v6)):
            for first, last in intervals:
                for value in range(first, last + 1):
                    yield ip_to_str(version, value)


def ip_to_str(version: int, value: int) -> str:
    return ip_text(version, value)


def split_specs(specs: Iterable[str]) -> Iterator[str]:
    """Flatten a list of specs that may each hold comma- or space-separated items."""
    for spec in specs:
        for item in re.split(r"[,\s]+", spec):
            if item:
                yield item


def _address(text: str, spec: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in text:
        raise ScopeError(f"bad target {spec!r}: IPv6 zone indexes are not supported")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ScopeError(f"bad target {spec!r}: {text!r} is not an IP address") from None


def _range(spec: str) -> TargetEntry:
    left, _, right = spec.partition("-")
    start = _address(left, spec)
    right = right.strip()
    if not right:
        raise ScopeError(f"bad target {spec!r}: range has no end")
    if start.version == 4 and right.isdigit():
        # Short form 127.20.0.1-50: the end replaces the last octet.
        octet = int(right)
        if octet > 255:
            raise ScopeError(f"bad target {spec!r}: range end {octet} is not an octet (0-255)")
        end_value = (int(start) & ~0xFF) | octet
    elif start.version == 6 and ":" not in right and "." not in right:
        # Short form 2001:db8::1-ff: the end replaces the last 16-bit group.
        if not re.fullmatch(r"[0-9A-Fa-f]{1,4}", right):
            raise ScopeError(f"bad target {spec!r}: range end {right!r} is not a hex group")
        end_value = (int(start) & ~0xFFFF) | int(right, 16)
    else:
        end = _address(right, spec)
        if end.version != start.version:
            raise ScopeError(f"bad target {spec!r}: range mixes IPv4 and IPv6")
        end_value = int(end)
    if end_value < int(start):
        raise ScopeError(f"bad target {spec!r}: range end is before its start")
    return TargetEntry(spec, start.version, int(start), end_value)


def parse_address_spec(spec: str) -> TargetEntry:
    """One address, CIDR or dash range (no host names) -> a ``TargetEntry``."""
    spec = spec.strip()
    if not spec:
        raise ScopeError("bad target '': empty")
    if "/" in spec:
        addr_text, _, bits = spec.partition("/")
        addr = _address(addr_text, spec)
        if not bits.isdigit() or int(bits) > (32 if addr.version == 4 else 128):
            raise ScopeError(f"bad target {spec!r}: prefix length {bits!r} is not valid")
        # Host bits are allowed (nmap does the same): 10.1.2.3/8 means 10.0.0.0/8.
        net = ipaddress.ip_network(f"{addr}/{bits}", strict=False)
        return TargetEntry(spec, net.version, int(net.network_address), int(net.broadcast_address))
    if "-" in spec:
        return _range(spec)
    addr = _address(spec, spec)
    return TargetEntry(spec, addr.version, int(addr), int(addr))


def looks_like_hostname(spec: str) -> bool:
    # A name whose last label is numeric is a malformed address (getaddrinfo would
    # happily read "127.1" or "10.0.0.1.5" via inet_aton rules): never resolve those.
    if not _HOSTNAME.match(spec):
        return False
    last = spec.rstrip(".").rsplit(".", 1)[-1]
    return not last.isdigit() and not last.lower().startswith("0x")


def _resolve(name: str, family: int) -> list[tuple[int, int]]:
    fam = {0: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}[family]
    try:
        infos = socket.getaddrinfo(name, None, fam, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ScopeError(f"bad target {name!r}: cannot resolve host name ({exc})") from None
    out: list[tuple[int, int]] = []
    for af, _, _, _, sockaddr in infos:
        if af not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        item = (addr.version, int(addr))
        if item not in out:
            out.append(item)
    if not out:
        raise ScopeError(f"bad target {name!r}: host name has no usable address")
    return out


def parse_targets(
    specs: Iterable[str], resolve: bool = True, family: Literal[0, 4, 6] = 0
) -> Targets:
    """Parse target specs into merged intervals.

    ``specs`` items may each hold several comma-separated specs. Host names are
    resolved once with ``getaddrinfo`` (only when ``resolve``); ``family`` limits
    that resolution to IPv4 (4) or IPv6 (6), 0 takes both.
    """
    if isinstance(specs, str):
        specs = [specs]
    entries: list[TargetEntry] = []
    hostnames: dict[str, list[str]] = {}
    resolved: dict[str, list[tuple[int, int]]] = {}
    for spec in split_specs(specs):
        if _ADDRESS_LIKE.fullmatch(spec) or ":" in spec or "/" in spec:
            entries.append(parse_address_spec(spec))
            continue
        if not looks_like_hostname(spec):
            raise ScopeError(f"bad target {spec!r}: not an address, CIDR, range or host name")
        if not resolve:
            raise ScopeError(f"bad target {spec!r}: host names are not accepted here")
        key = spec.rstrip(".").lower()
        if key not in resolved:
            resolved[key] = _resolve(key, family)
        for version, value in resolved[key]:
            entries.append(TargetEntry(spec, version, value, value))  # type: ignore[arg-type]
            names = hostnames.setdefault(ip_to_str(version, value), [])
            if key not in names:
                names.append(key)
    return Targets.from_entries(entries, hostnames)
