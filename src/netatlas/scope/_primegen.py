"""Primality and the search that produced ``_primes.TABLE`` (run as a script to redo it).

Kept in the package so the tests can re-verify every hard-coded value:
``python -m netatlas.scope._primegen`` prints the table.

For each bit length b the table holds the smallest prime p > 2**b for which p - 1
factors completely into primes below ``SMALL`` times at most one (probable) prime
cofactor, so a primitive root can be checked exactly at run time.
"""

from __future__ import annotations

import math

SMALL = 1 << 16
_SMALL_PRIMES: list[int] = []


def small_primes() -> list[int]:
    if not _SMALL_PRIMES:
        sieve = bytearray([1]) * SMALL
        sieve[0:2] = b"\x00\x00"
        for i in range(2, math.isqrt(SMALL) + 1):
            if sieve[i]:
                sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
        _SMALL_PRIMES.extend(i for i, flag in enumerate(sieve) if flag)
    return _SMALL_PRIMES


def _miller_rabin(n: int, base: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    x = pow(base, d, n)
    if x in (1, n - 1):
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def _jacobi(a: int, n: int) -> int:
    a %= n
    result = 1
    while a:
        while a % 2 == 0:
            a //= 2
            if n % 8 in (3, 5):
                result = -result
        a, n = n, a
        if a % 4 == 3 and n % 4 == 3:
            result = -result
        a %= n
    return result if n == 1 else 0


def _strong_lucas(n: int) -> bool:
    """Strong Lucas probable-prime test with Selfridge parameters (half of BPSW)."""
    if math.isqrt(n) ** 2 == n:
        return False
    d = 5
    while _jacobi(d, n) != -1:
        d = -d - 2 if d > 0 else -d + 2
    p, q = 1, (1 - d) // 4
    k, s = n + 1, 0
    while k % 2 == 0:
        k //= 2
        s += 1
    # Binary ladder for U_k, V_k.
    u, v, qk = 0, 2, 1
    for bit in bin(k)[2:]:
        u, v = u * v % n, (v * v - 2 * qk) % n
        qk = qk * qk % n
        if bit == "1":
            u, v = (p * u + v), (d * u + p * v)
            u = (u if u % 2 == 0 else u + n) // 2 % n
            v = (v if v % 2 == 0 else v + n) // 2 % n
            qk = qk * q % n
    if u == 0 or v == 0:
        return True
    for _ in range(s - 1):
        v = (v * v - 2 * qk) % n
        if v == 0:
            return True
        qk = qk * qk % n
    return False


def is_prime(n: int) -> bool:
    """Baillie-PSW plus Miller-Rabin on the first 25 prime bases.

    Deterministic below 3.3e24 (the 13 first prime bases suffice there); above, no
    composite passing BPSW is known.
    """
    if n < 2:
        return False
    for p in small_primes()[:100]:
        if n % p == 0:
            return n == p
    if n < SMALL:
        return True
    if not all(_miller_rabin(n, b) for b in small_primes()[:25]):
        return False
    return _strong_lucas(n)


def factor(n: int) -> list[int] | None:
    """Distinct prime factors of n if n = (primes < SMALL) * (at most one prime)."""
    factors: list[int] = []
    for p in small_primes():
        if p * p > n:
            break
        if n % p == 0:
            factors.append(p)
            while n % p == 0:
                n //= p
    if n > 1:
        if not is_prime(n):
            return None
        factors.append(n)
    return factors


def search(bits: int) -> tuple[int, tuple[int, ...]]:
    p = (1 << bits) + 1
    while True:
        if is_prime(p):
            factors = factor(p - 1)
            if factors is not None:
                return p, tuple(factors)
        p += 1


def generate(max_bits: int = 160) -> list[tuple[int, tuple[int, ...]]]:
    return [search(b) for b in range(max_bits + 1)]


if __name__ == "__main__":
    print("TABLE: tuple[tuple[int, tuple[int, ...]], ...] = (")
    for b, (p, factors) in enumerate(generate()):
        print(f"    # 2**{b} + {p - (1 << b)}")
        line = f"    ({p}, {factors!r}),"
        if len(line) <= 100:
            print(line)
        else:
            print(f"    (\n        {p},\n        {factors!r},\n    ),")
    print(")")
