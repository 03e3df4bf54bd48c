"""The walk of a target space a batch at a time, as arrays: what a raw-packet sender
takes instead of ``(position, Endpoint)`` pairs.

``TargetSpace.walk`` builds an Endpoint and its IP text per probe (about a microsecond of
Python each); a SYN sender needs neither, only the position, the IPv4 address as an
integer and the port. ``ProbeBatches.take(n)`` hands over the next ``n`` probes of the
same walk — same positions, same order, same shards, from the same resume position — as
three numpy arrays (int64 positions, uint32 addresses, uint16 ports), computed a chunk
of cycle steps at a time: x_k = x_0 * g**k mod p for a whole chunk with one table of
powers (while p < 2**32 the products fit in 64 bits), the skipped values dropped with a
mask, the addresses found by ``searchsorted`` over the same prefix sums.

Only IPv4 probes of one transport (TCP by default) come out: a probe of the other
transport is left out (as ``MixedDiscoverer`` leaves it to the other engine), an IPv6
one stops the walk with ValueError (a raw IPv4 SYN cannot reach it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .errors import ScopeError
from .permutation import Permutation

CHUNK = 4096  # cycle steps computed per numpy pass
_VECTOR_PRIME = 1 << 32  # below it x * g**k (both < p) fits in a uint64
MAX_STEPS = 1 << 62  # positions are int64; an IPv4 space x 2 x 65536 ports is < 2**50

Positions = npt.NDArray[np.int64]
Addresses = npt.NDArray[np.uint32]
Ports = npt.NDArray[np.uint16]
Batch = tuple[Positions, Addresses, Ports]


def empty_batch() -> Batch:
    return (np.empty(0, np.int64), np.empty(0, np.uint32), np.empty(0, np.uint16))


class ProbeBatches:
    """``space``'s walk in ``perm`` order from ``position``, ``take(n)`` at a time.

    Memory is O(CHUNK + intervals + ports), whatever the size of the space.
    """

    def __init__(self, space: object, perm: Permutation, position: int = 0,
                 transport: str = "tcp") -> None:
        from .space import TargetSpace

        if not isinstance(space, TargetSpace):
            raise TypeError("ProbeBatches walks a TargetSpace")
        if perm.size != space.size:
            raise ScopeError(
                f"permutation size {perm.size} does not match the target space ({space.size})"
            )
        if not 0 <= position <= perm.steps:
            raise ScopeError(f"bad position {position}: this shard has {perm.steps} steps")
        if perm.steps >= MAX_STEPS:
            raise ScopeError(f"{perm.steps} steps are too many to walk in batches")
        self.space = space
        self.perm = perm
        self.transport = transport
        self.position = position  # the next cycle step to compute
        self.steps = perm.steps
        self._x = perm.value_at(position) if position < perm.steps else 0
        self._mult, self._prime, self._size = perm.multiplier, perm.prime, perm.size
        self._powers: npt.NDArray[np.uint64] | None = None
        if self._prime < _VECTOR_PRIME:
            powers = np.empty(CHUNK, np.uint64)
            v = 1
            for k in range(CHUNK):
                powers[k] = v
                v = v * self._mult % self._prime
            self._powers = powers
        pairs = space._pairs
        self._nports = len(pairs)
        self._ports = np.array([p for p, _ in pairs], np.uint16)
        wanted = [t == transport for _, t in pairs]
        self._wanted: npt.NDArray[np.bool_] | None = (
            None if all(wanted) else np.array(wanted, np.bool_))
        self._v4_count = space._v4_count
        blocks = sum(1 for start in space._prefix if start < space._v4_count)
        self._prefix = np.array(space._prefix[:blocks], np.int64)
        self._offset = np.array(space._offset[:blocks], np.int64)
        self._pending: Batch = empty_batch()

    @property
    def exhausted(self) -> bool:
        return self.position >= self.steps and not len(self._pending[0])

    def take(self, n: int) -> Batch:
        """The next ``n`` probes (fewer only at the end of the walk: then it is over)."""
        got = [self._pending]
        have = len(self._pending[0])
        while have < n and self.position < self.steps:
            part = self._chunk()
            got.append(part)
            have += len(part[0])
        if len(got) == 1:
            pos, addr, port = got[0]
        else:
            pos, addr, port = (np.concatenate([g[i] for g in got]) for i in range(3))
        if have <= n:
            self._pending = empty_batch()
            return pos, addr, port
        self._pending = (pos[n:], addr[n:], port[n:])
        return pos[:n], addr[:n], port[:n]

    def _values(self, m: int) -> tuple[Positions, npt.NDArray[np.int64]]:
        """The next ``m`` cycle steps: the positions kept and their indices (x - 1)."""
        x, h, p, size = self._x, self._mult, self._prime, self._size
        position = self.position
        powers = self._powers
        if powers is not None:
            xs = powers[:m] * np.uint64(x) % np.uint64(p)
            self._x = int(xs[m - 1]) * h % p
            keep = xs <= size
            return (np.flatnonzero(keep).astype(np.int64) + position,
                    xs[keep].astype(np.int64) - 1)
        kept_pos: list[int] = []
        kept_idx: list[int] = []
        for pos in range(position, position + m):
            if x <= size:
                kept_pos.append(pos)
                kept_idx.append(x - 1)
            x = x * h % p
        self._x = x
        return np.array(kept_pos, np.int64), np.array(kept_idx, np.int64)

    def _chunk(self) -> Batch:
        m = min(CHUNK, self.steps - self.position)
        positions, idx = self._values(m)
        self.position += m
        nports = self._nports
        if nports == 1:
            a, r = idx, None
        else:
            a, r = np.divmod(idx, nports)
        if self._wanted is not None:  # another transport's probes: not ours
            keep = self._wanted[r] if r is not None else np.zeros(len(a), np.bool_)
            positions, a = positions[keep], a[keep]
            r = r[keep] if r is not None else None
        if len(a) and int(a.max()) >= self._v4_count:
            k = int(np.argmax(a >= self._v4_count))
            ip = self.space._address(int(a[k]))
            raise ValueError(f"--syn scans IPv4 only; {ip} needs --connect")
        if len(self._offset) == 1:
            addr = (a + self._offset[0]).astype(np.uint32)
        else:
            b = np.searchsorted(self._prefix, a, "right") - 1
            addr = (self._offset[b] + a).astype(np.uint32)
        ports = (np.full(len(a), self._ports[0], np.uint16) if r is None
                 else self._ports[r])
        return positions, addr, ports

