"""Port syntax, nmap style: ``22,80-90``, ``-`` (all), ``-1024``, ``60000-``,
``T:22,80,U:53,161``; plus ``--exclude-ports`` and ``--top-ports`` from a table shipped
in ``data/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from .errors import ScopeError

Transport = Literal["tcp", "udp"]
MAX_PORT = 65535
_PREFIX = {"T": "tcp", "U": "udp"}


@dataclass(frozen=True, slots=True)
class PortSet:
    """Sorted, unique TCP and UDP ports."""

    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.tcp) + len(self.udp)

    def __bool__(self) -> bool:
        return bool(self.tcp or self.udp)

    def __or__(self, other: PortSet) -> PortSet:
        return PortSet(
            tuple(sorted(set(self.tcp) | set(other.tcp))),
            tuple(sorted(set(self.udp) | set(other.udp))),
        )

    def pairs(self) -> tuple[tuple[int, Transport], ...]:
        """Every (port, transport), TCP first: the port order of a target space."""
        tcp: tuple[tuple[int, Transport], ...] = tuple((p, "tcp") for p in self.tcp)
        udp: tuple[tuple[int, Transport], ...] = tuple((p, "udp") for p in self.udp)
        return tcp + udp


def _number(text: str, spec: str, pos: int) -> int:
    if not text.isdigit():
        raise ScopeError(f"bad port spec {spec!r} at position {pos}: {text!r} is not a port number")
    value = int(text)
    if value > MAX_PORT:
        raise ScopeError(f"bad port spec {spec!r} at position {pos}: {value} is above {MAX_PORT}")
    return value


def _parse(spec: str) -> tuple[set[int], set[int], set[int]]:
    """-> (tcp, udp, unprefixed) port sets. Positions in errors are 1-based columns."""
    if not spec or not spec.strip():
        raise ScopeError("bad port spec '': no ports given")
    tcp: set[int] = set()
    udp: set[int] = set()
    bare: set[int] = set()
    target = bare
    pos = 1
    for raw in spec.split(","):
        item_pos = pos + len(raw) - len(raw.lstrip())
        pos += len(raw) + 1
        item = raw.strip()
        if len(item) >= 2 and item[1] == ":":
            proto = item[0].upper()
            if proto not in _PREFIX:
                raise ScopeError(
                    f"bad port spec {spec!r} at position {item_pos}: unknown protocol "
                    f"prefix {item[:2]!r} (use T: or U:)"
                )
            target = tcp if proto == "T" else udp
            item = item[2:].strip()
            item_pos += 2
        if not item:
            raise ScopeError(f"bad port spec {spec!r} at position {item_pos}: empty item")
        if "-" in item:
            lo_text, _, hi_text = item.partition("-")
            lo_text, hi_text = lo_text.strip(), hi_text.strip()
            # Open ends as in nmap: "-1024" starts at 1, "60000-" ends at 65535.
            lo = _number(lo_text, spec, item_pos) if lo_text else 1
            hi = _number(hi_text, spec, item_pos + len(lo_text) + 1) if hi_text else MAX_PORT
            if hi < lo:
                raise ScopeError(
                    f"bad port spec {spec!r} at position {item_pos}: range {item!r} "
                    "ends before it starts"
                )
            target.update(range(lo, hi + 1))
        else:
            target.add(_number(item, spec, item_pos))
    return tcp, udp, bare


def parse_ports(spec: str, default: Transport = "tcp") -> PortSet:
    """Parse an nmap-style port list; unprefixed ports go to ``default`` (tcp)."""
    tcp, udp, bare = _parse(spec)
    (tcp if default == "tcp" else udp).update(bare)
    return PortSet(tuple(sorted(tcp)), tuple(sorted(udp)))


def exclude_ports(portset: PortSet, spec: str | PortSet) -> PortSet:
    """Remove ports; unprefixed ports in ``spec`` are removed from both TCP and UDP."""
    if isinstance(spec, PortSet):
        tcp, udp = set(spec.tcp), set(spec.udp)
    else:
        tcp, udp, bare = _parse(spec)
        tcp |= bare
        udp |= bare
    return PortSet(
        tuple(p for p in portset.tcp if p not in tcp),
        tuple(p for p in portset.udp if p not in udp),
    )


def excluded_check(spec: str | None) -> Callable[[int, str], bool]:
    """``(port, transport) -> allowed``: False for the ports ``spec`` excludes (an
    unprefixed port on both transports), True for every other."""
    if not spec:
        return lambda port, transport: True
    tcp, udp, bare = _parse(spec)
    tcp |= bare
    udp |= bare
    return lambda port, transport: port not in (udp if transport == "udp" else tcp)


@cache
def _table(transport: Transport) -> tuple[int, ...]:
    text = resources.files(__package__).joinpath(f"data/top-ports-{transport}.txt").read_text()
    ports: list[int] = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            ports.append(int(entry))
    return tuple(ports)


def top_ports_ordered(n: int, transport: Transport = "tcp") -> tuple[int, ...]:
    """The ``n`` most frequently open ports, most frequent first."""
    if transport not in ("tcp", "udp"):
        raise ScopeError(f"bad transport {transport!r}: use tcp or udp")
    if n < 1:
        raise ScopeError(f"bad top-ports count {n}: must be at least 1")
    table = _table(transport)
    if n > len(table):
        raise ScopeError(f"bad top-ports count {n}: the {transport} table holds {len(table)} ports")
    return table[:n]


def top_ports(n: int, transport: Transport = "tcp") -> PortSet:
    """The ``n`` most frequently open ports as a ``PortSet`` of that transport."""
    ports = tuple(sorted(top_ports_ordered(n, transport)))
    return PortSet(tcp=ports) if transport == "tcp" else PortSet(udp=ports)
