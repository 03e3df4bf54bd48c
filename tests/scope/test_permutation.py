from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.scope import MAX_SIZE, Permutation, ScopeError
from netatlas.scope._primes import TABLE
from netatlas.scope.permutation import is_primitive_root, pick_group

# Sizes around the group edges: p - 1 (no skips), p (next group), the tiny ones.
EDGE_SIZES = sorted(
    {0, 1, 2, 3, 4, 5, 7, 97, 1000}
    | {p - 1 for p, _ in TABLE[:16]}
    | {p for p, _ in TABLE[:16]}
    | {p - 2 for p, _ in TABLE[2:16]}
    | {2**b for b in range(16)}
)


def indices(perm: Permutation, position: int = 0) -> list[int]:
    return [index for _, index in perm.iter_from(position)]


@pytest.mark.parametrize("size", EDGE_SIZES)
def test_every_index_exactly_once(size: int) -> None:
    perm = Permutation(size, seed=size * 7 + 1)
    got = indices(perm)
    assert sorted(got) == list(range(size))
    assert perm.count == size
    assert perm.prime > size
    assert perm.steps == (perm.prime - 1 if size else 0)


@given(st.integers(0, 5000), st.integers(0, 2**64))
@settings(max_examples=60, deadline=None)
def test_every_index_exactly_once_hypothesis(size: int, seed: int) -> None:
    assert sorted(indices(Permutation(size, seed))) == list(range(size))


def test_order_is_random_and_seed_reproducible() -> None:
    a = indices(Permutation(10_000, seed=42))
    b = indices(Permutation(10_000, seed=42))
    c = indices(Permutation(10_000, seed=43))
    assert a == b
    assert a != c
    assert a != sorted(a)
    # not a near-identity walk: few neighbours stay neighbours
    adjacent = sum(1 for x, y in itertools.pairwise(a) if abs(x - y) == 1)
    assert adjacent < 50


def test_generator_is_a_primitive_root_and_depends_on_seed() -> None:
    gens = set()
    for seed in range(20):
        perm = Permutation(1_000_000, seed=seed)
        assert is_primitive_root(perm.generator, perm.prime, perm.factors)
        assert 1 <= perm.start < perm.prime
        gens.add(perm.generator)
    assert len(gens) > 10


def test_seed_none_picks_a_random_seed_and_records_it() -> None:
    perm = Permutation(1000)
    assert indices(Permutation(1000, seed=perm.seed)) == indices(perm)


@pytest.mark.parametrize(
    ("size", "n"),
    [(1, 1), (1, 3), (2, 2), (10, 3), (1000, 7), (4096, 4), (65535, 16), (65536, 5), (100, 200)],
)
def test_shards_are_disjoint_and_cover(size: int, n: int) -> None:
    seen: list[int] = []
    for i in range(n):
        perm = Permutation(size, seed=5, shard=(i, n))
        part = indices(perm)
        assert perm.count == len(part)
        seen.extend(part)
    assert sorted(seen) == list(range(size))


def test_shards_are_slices_of_one_permutation() -> None:
    size, n = 5000, 3
    full = Permutation(size, seed=9)
    # cycle step k of the full run belongs to shard k % n, at local position k // n
    by_step = {pos: idx for pos, idx in full.iter_from(0)}
    for i in range(n):
        for pos, idx in Permutation(size, seed=9, shard=(i, n)).iter_from(0):
            assert by_step.pop(pos * n + i) == idx
    assert by_step == {}


@given(st.integers(1, 3000), st.integers(0, 2**32), st.integers(1, 6), st.data())
@settings(max_examples=60, deadline=None)
def test_resume_equals_the_tail(size: int, seed: int, n: int, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, n - 1))
    perm = Permutation(size, seed, shard=(i, n))
    full = list(perm.iter_from(0))
    position = data.draw(st.integers(0, perm.steps))
    assert list(perm.iter_from(position)) == [item for item in full if item[0] >= position]


def test_positions_count_every_step() -> None:
    perm = Permutation(1000, seed=3)
    positions = [pos for pos, _ in perm.iter_from(0)]
    assert positions == sorted(positions)
    assert len(positions) == 1000 and positions[-1] < perm.steps


def test_jump_is_logarithmic_not_a_replay() -> None:
    # A 2**100-element space: replaying to the middle would never finish.
    perm = Permutation(2**100, seed=1)
    it = perm.iter_from(perm.steps // 2)
    first = [next(it) for _ in range(5)]
    assert all(pos >= perm.steps // 2 and 0 <= idx < 2**100 for pos, idx in first)


def test_ipv6_sized_spaces() -> None:
    size = 2**128 * 65535 * 2  # all of IPv6, every tcp and udp port
    perm = Permutation(size, seed=7, shard=(3, 1000))
    pos, index = next(perm.iter_from(12345))
    assert 0 <= index < size and pos >= 12345
    assert perm.steps == (perm.prime - 1 - 3 + 999) // 1000


def test_too_large_is_a_clear_error() -> None:
    with pytest.raises(ScopeError, match="too large"):
        Permutation(MAX_SIZE + 1, seed=1)
    Permutation(MAX_SIZE, seed=1)


@pytest.mark.parametrize("shard", [(1, 1), (-1, 2), (0, 0), (3, 2)])
def test_bad_shards(shard: tuple[int, int]) -> None:
    with pytest.raises(ScopeError, match="bad shard"):
        Permutation(100, seed=1, shard=shard)


def test_bad_position_and_size() -> None:
    perm = Permutation(100, seed=1)
    with pytest.raises(ScopeError, match="bad position"):
        perm.iter_from(-1)
    with pytest.raises(ScopeError, match="bad position"):
        perm.iter_from(perm.steps + 1)
    assert list(perm.iter_from(perm.steps)) == []
    with pytest.raises(ScopeError):
        Permutation(-1, seed=1)


def test_pick_group_is_the_smallest_tabled_prime_above_size() -> None:
    for size in [0, 1, 2, 255, 256, 257, 65536, 2**32, 2**32 + 14, 2**32 + 15, 2**127]:
        p, _ = pick_group(size)
        assert p > size
        smaller = [q for q, _ in TABLE if q < p]
        assert not smaller or smaller[-1] <= size
    assert math.prod(pick_group(2**40)[1]) > 1
