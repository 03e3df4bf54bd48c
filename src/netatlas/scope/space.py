"""The target space: (allowed, non-denied addresses) x ports, never materialised.

Addresses live in a few intervals; a prefix sum over their sizes turns a flat
address number into an address with one bisect. Endpoint index i is address
``i // nports`` and port ``i % nports`` (TCP ports first, then UDP), so memory is
O(#intervals + #ports) whatever the size of the space.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..model import Endpoint
from ._addr import v4_text, v6_text
from .errors import ScopeError
from .permutation import Permutation
from .policy import Scope
from .ports import PortSet
from .targets import Targets

if TYPE_CHECKING:
    from .batches import ProbeBatches

_OCTETS = tuple(str(i) for i in range(256))

Slots = tuple[
    Callable[[type], Any],
    Callable[[Any, str], None],
    Callable[[Any, int], None],
    Callable[[Any, str], None],
]


def _endpoint_slots() -> Slots | None:
    """How to build Endpoints without the frozen-dataclass ``__init__`` (half the cost):
    ``object.__new__`` then the three slot descriptors. Checked against the real
    constructor, so a change to ``Endpoint`` falls back to it instead of breaking."""
    try:
        if tuple(Endpoint.__slots__) != ("ip", "port", "transport"):
            return None
        members = vars(Endpoint)  # the slot descriptors, which typing cannot see
        slots: Slots = (
            object.__new__,
            members["ip"].__set__,
            members["port"].__set__,
            members["transport"].__set__,
        )
    except (AttributeError, TypeError):
        return None
    new, set_ip, set_port, set_transport = slots
    probe = new(Endpoint)
    set_ip(probe, "127.20.0.1")
    set_port(probe, 80)
    set_transport(probe, "udp")
    ref = Endpoint("127.20.0.1", 80, "udp")
    if probe != ref or hash(probe) != hash(ref) or repr(probe) != repr(ref):
        return None
    return slots


_SLOTS = _endpoint_slots()


class TargetSpace:
    """(addresses the scope permits among ``targets``) x ``ports``."""

    def __init__(self, targets: Targets, ports: PortSet, scope: Scope) -> None:
        permitted = scope.permitted(targets)  # raises OutOfScope before anything else
        self.scope = scope
        self.ports = ports
        self.skipped = permitted.skipped  # addresses inside allow but denied
        self.refused = permitted.refused  # the first few of them, each with its reason
        self.hostnames = dict(targets.hostnames)
        self._pairs = ports.pairs()
        self.nports = len(self._pairs)

        # Flat address number a lies in block b = bisect_right(_prefix, a) - 1 and
        # is the integer _offset[b] + a.
        self._prefix: list[int] = []
        self._offset: list[int] = []
        self._v4_count = 0
        total = 0
        for version, intervals in ((4, permitted.v4), (6, permitted.v6)):
            for first, last in intervals:
                self._prefix.append(total)
                self._offset.append(first - total)
                total += last - first + 1
            if version == 4:
                self._v4_count = total
        self.addresses = total
        self.size = total * self.nports

    def __repr__(self) -> str:
        return (
            f"TargetSpace(addresses={self.addresses}, ports={self.nports}, "
            f"size={self.size}, skipped={self.skipped})"
        )

    def _address(self, a: int) -> str:
        value = self._offset[bisect_right(self._prefix, a) - 1] + a
        return v4_text(value) if a < self._v4_count else v6_text(value)

    def endpoint(self, index: int) -> Endpoint:
        if not 0 <= index < self.size:
            raise IndexError(f"endpoint index {index} outside 0..{self.size - 1}")
        a, r = divmod(index, self.nports)
        port, transport = self._pairs[r]
        return Endpoint(self._address(a), port, transport)

    def at(self, perm: Permutation, position: int) -> Endpoint | None:
        """The endpoint ``walk(perm)`` yields at ``position`` (None: a position the walk
        skips, or none of the shard's): what a stateless scanner checks a reply against."""
        if perm.size != self.size or not 0 <= position < perm.steps:
            return None
        x = perm.value_at(position)
        return self.endpoint(x - 1) if x <= self.size else None

    def index_of(self, endpoint: Endpoint) -> int:
        """Inverse of ``endpoint``; ValueError when the endpoint is not in the space."""
        try:
            r = self._pairs.index((endpoint.port, endpoint.transport))
        except ValueError:
            raise ValueError(f"{endpoint} is not in this target space") from None
        addr = ipaddress.ip_address(endpoint.ip)
        value = int(addr)
        lo, hi = (0, self._v4_count) if addr.version == 4 else (self._v4_count, self.addresses)
        for b, start in enumerate(self._prefix):
            end = self._prefix[b + 1] if b + 1 < len(self._prefix) else self.addresses
            if lo <= start < hi and 0 <= value - self._offset[b] - start < end - start:
                return (value - self._offset[b]) * self.nports + r
        raise ValueError(f"{endpoint} is not in this target space")

    def __iter__(self) -> Iterator[Endpoint]:
        """Sequential order (tests and tiny scans); scans use ``iter_endpoints``."""
        for index in range(self.size):
            yield self.endpoint(index)

    def batches(self, perm: Permutation, position: int = 0,
                transport: str = "tcp") -> ProbeBatches:
        """The same walk as ``walk(perm, position)``, restricted to ``transport``, as
        arrays a batch at a time (``ProbeBatches.take``): no Endpoint, no IP text."""
        from .batches import ProbeBatches

        return ProbeBatches(self, perm, position, transport)

    # -- the hot loop -----------------------------------------------------------------

    def walk(self, perm: Permutation, position: int = 0) -> Iterator[tuple[int, Endpoint]]:
        if perm.size != self.size:
            raise ScopeError(
                f"permutation size {perm.size} does not match the target space ({self.size})"
            )
        if not 0 <= position <= perm.steps:
            raise ScopeError(f"bad position {position}: this shard has {perm.steps} steps")
        return self._walk(perm, position)

    def _walk(self, perm: Permutation, position: int) -> Iterator[tuple[int, Endpoint]]:
        # Everything is bound to locals and inlined: this loop runs a million times a
        # second, and each Python-level call saved is ~5% of it.
        x = perm.value_at(position)
        h, p, size = perm.multiplier, perm.prime, self.size
        steps = perm.steps
        nports = self.nports
        ports = tuple(port for port, _ in self._pairs)
        transports = tuple(t for _, t in self._pairs)
        prefix, offset = self._prefix, self._offset
        v4_count = self._v4_count
        octet = _OCTETS
        if _SLOTS is None:  # Endpoint changed shape: take the plain constructor
            for pos in range(position, steps):
                if x <= size:
                    a, r = divmod(x - 1, nports)
                    value = offset[bisect_right(prefix, a) - 1] + a
                    ip = v4_text(value) if a < v4_count else v6_text(value)
                    yield pos, Endpoint(ip, ports[r], transports[r])
                x = x * h % p
            return
        new, set_ip, set_port, set_transport = _SLOTS
        endpoint_cls = Endpoint
        if len(prefix) == 1 and v4_count == self.addresses:
            base = offset[0]
            for pos in range(position, steps):
                if x <= size:
                    a, r = divmod(x - 1, nports)
                    v = base + a
                    ep = new(endpoint_cls)
                    set_ip(
                        ep,
                        f"{octet[v >> 24]}.{octet[v >> 16 & 255]}."
                        f"{octet[v >> 8 & 255]}.{octet[v & 255]}",
                    )
                    set_port(ep, ports[r])
                    set_transport(ep, transports[r])
                    yield pos, ep
                x = x * h % p
            return
        bisect = bisect_right
        for pos in range(position, steps):
            if x <= size:
                a, r = divmod(x - 1, nports)
                v = offset[bisect(prefix, a) - 1] + a
                ep = new(endpoint_cls)
                if a < v4_count:
                    set_ip(
                        ep,
                        f"{octet[v >> 24]}.{octet[v >> 16 & 255]}."
                        f"{octet[v >> 8 & 255]}.{octet[v & 255]}",
                    )
                else:
                    set_ip(ep, v6_text(v))
                set_port(ep, ports[r])
                set_transport(ep, transports[r])
                yield pos, ep
            x = x * h % p


def iter_endpoints(
    space: TargetSpace, perm: Permutation, start_position: int = 0
) -> Iterator[tuple[int, Endpoint]]:
    """(position, endpoint) in permutation order from ``start_position`` (resume point)."""
    return space.walk(perm, start_position)
