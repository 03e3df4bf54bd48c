"""A random permutation of ``range(size)`` in O(1) memory, ZMap style.

The multiplicative group of integers modulo a prime p > size is cyclic: with a
primitive root g, ``x -> x * g mod p`` visits every value of 1..p-1 exactly once
before coming back. Start somewhere, walk, and keep the values <= size (index =
value - 1): a permutation of the indices with no visited set.

``seed`` fixes g and the start, so the same seed gives the same order; g and the
start depend only on (seed, size), never on the shard, so shards are slices of one
permutation: shard (i, n) takes cycle steps i, i + n, i + 2n, ... (multiplier g**n).
A position is a shard-local step counter; jumping to one costs one ``pow``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from functools import cached_property

from ._primes import TABLE
from .errors import ScopeError

MAX_SIZE = TABLE[-1][0] - 1


def pick_group(size: int) -> tuple[int, tuple[int, ...]]:
    """The smallest tabled prime p with p - 1 >= size, and the prime factors of p - 1."""
    if size > MAX_SIZE:
        raise ScopeError(
            f"target space of {size} endpoints is too large (at most 2**160 = {MAX_SIZE}); "
            "narrow the targets or ports"
        )
    # Entry b holds a prime just above 2**b, so start the search at size's bit length.
    for p, factors in TABLE[max(size.bit_length() - 1, 0) :]:
        if p > size:
            return p, factors
    raise AssertionError("unreachable: MAX_SIZE guards the table end")


def _draw(seed: int, label: str, counter: int, low: int, high: int) -> int:
    """A reproducible integer in [low, high] from the seed (stable across Pythons)."""
    digest = hashlib.blake2b(f"netatlas:{seed}:{label}:{counter}".encode(), digest_size=64)
    # 512 bits against a range below 2**161: the modulo bias is below 2**-350.
    return low + int.from_bytes(digest.digest(), "big") % (high - low + 1)


def is_primitive_root(g: int, p: int, factors: tuple[int, ...]) -> bool:
    return all(pow(g, (p - 1) // q, p) != 1 for q in factors)


class Permutation:
    """Permutation of ``range(size)``; iterate with ``iter_from(position)``."""

    def __init__(self, size: int, seed: int | None = None, shard: tuple[int, int] = (0, 1)):
        if size < 0:
            raise ScopeError(f"bad permutation size {size}")
        index, count = shard
        if count < 1 or not 0 <= index < count:
            raise ScopeError(f"bad shard {index}/{count}: need 0 <= i < n and n >= 1")
        self.size = size
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        self.shard = (index, count)
        self.prime, self.factors = pick_group(size)
        p = self.prime
        if p == 2:
            self.generator = 1  # the trivial group {1}
        else:
            k = 0
            while True:
                g = _draw(self.seed, "generator", k, 2, p - 1)
                if is_primitive_root(g, p, self.factors):
                    break
                k += 1
            self.generator = g
        self.start = _draw(self.seed, "start", 0, 1, p - 1)
        # Shard i of n: its first element is start * g**i, then multiply by g**n.
        self.multiplier = pow(self.generator, count, p)
        self.first = self.start * pow(self.generator, index, p) % p
        cycle = p - 1
        self.steps = 0 if size == 0 or index >= cycle else (cycle - index + count - 1) // count

    def value_at(self, position: int) -> int:
        """The cycle value at a shard-local position: O(log position)."""
        return self.first * pow(self.multiplier, position, self.prime) % self.prime

    def iter_from(self, position: int = 0) -> Iterator[tuple[int, int]]:
        """Yield (position, index) from ``position`` on; positions grow by one per cycle
        step, skipped values included, so a saved position resumes exactly."""
        if not 0 <= position <= self.steps:
            raise ScopeError(f"bad position {position}: this shard has {self.steps} steps")
        return self._walk(position)

    def _walk(self, position: int) -> Iterator[tuple[int, int]]:
        x = self.value_at(position)
        h, p, size = self.multiplier, self.prime, self.size
        for pos in range(position, self.steps):
            if x <= size:
                yield pos, x - 1
            x = x * h % p

    def __iter__(self) -> Iterator[int]:
        for _, index in self._walk(0):
            yield index

    @cached_property
    def count(self) -> int:
        """How many indices this shard yields, exactly.

        O(1) unsharded (it is ``size``). For n > 1 shards the split of the skipped
        values is not known in closed form, so this walks the shard once (O(steps)
        time, O(1) memory); use ``steps`` for progress, it is exact and free.
        """
        if self.shard[1] == 1:
            return self.size
        return sum(1 for _ in self._walk(0))

    def __repr__(self) -> str:
        i, n = self.shard
        return f"Permutation(size={self.size}, seed={self.seed}, shard=({i}, {n}))"
