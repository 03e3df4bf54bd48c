from __future__ import annotations

import pytest

from netatlas.discover import TokenBucket


def test_rate_over_simulated_time() -> None:
    b = TokenBucket(1000.0, now=0.0)
    granted = 0
    t = 0.0
    while t < 2.0:
        granted += b.take(10_000, t)
        t += 0.003
    assert 1900 <= granted <= 2011  # 1000/s for 2 s, plus at most one burst


def test_no_initial_burst_and_delay() -> None:
    b = TokenBucket(10.0, burst=5, now=0.0)
    assert b.take(5, 0.0) == 1
    assert b.take(5, 0.0) == 0
    assert b.delay(0.0) == pytest.approx(0.1)
    assert b.take(5, 0.1) == 1
    b.give_back(3)
    assert b.take(5, 0.1) == 3


def test_burst_cap() -> None:
    b = TokenBucket(100.0, burst=2, now=0.0)
    assert b.take(100, 60.0) == 2


def test_bad_rate() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
