"""Re-verify every hard-coded group: p prime, the factors prime and complete."""

from __future__ import annotations

import pytest

from netatlas.scope._primegen import factor, is_prime, search
from netatlas.scope._primes import TABLE


def _sieve(n: int) -> list[bool]:
    flags = [True] * n
    flags[0] = flags[1] = False
    for i in range(2, int(n**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = [False] * len(flags[i * i :: i])
    return flags


def test_is_prime_against_a_sieve() -> None:
    flags = _sieve(100_000)
    assert [n for n in range(100_000) if is_prime(n) != flags[n]] == []


@pytest.mark.parametrize(
    "n",
    [
        3215031751,  # strong pseudoprime to bases 2, 3, 5, 7
        3825123056546413051,  # to the first 9 prime bases
        318665857834031151167461,  # to the first 12 prime bases
        3317044064679887385961981,  # to the first 13 prime bases
        2**61 - 1 + 2,
        (2**89 - 1) * (2**61 - 1),
    ],
)
def test_is_prime_rejects_hard_composites(n: int) -> None:
    assert not is_prime(n)


@pytest.mark.parametrize("n", [2**61 - 1, 2**89 - 1, 2**107 - 1, 2**127 - 1, 2**521 - 1])
def test_is_prime_accepts_mersenne_primes(n: int) -> None:
    assert is_prime(n)


def test_table_shape() -> None:
    assert len(TABLE) == 161
    for b, (p, _) in enumerate(TABLE):
        assert p > 2**b
        if b:
            assert p > TABLE[b - 1][0]


@pytest.mark.parametrize("b", range(161))
def test_table_entry_verified(b: int) -> None:
    p, factors = TABLE[b]
    assert is_prime(p)
    rest = p - 1
    for q in factors:
        assert is_prime(q)
        assert rest % q == 0
        while rest % q == 0:
            rest //= q
    assert rest == 1, "factor list must be complete"
    assert list(factors) == sorted(set(factors))


@pytest.mark.parametrize("b", [0, 1, 5, 8, 16, 24, 32, 48, 64, 100, 128])
def test_table_entry_reproduces(b: int) -> None:
    assert search(b) == TABLE[b]
    assert factor(TABLE[b][0] - 1) == list(TABLE[b][1])
