from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from netatlas.scope import _intervals as iv

spans = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=8).map(
    lambda items: [(a, a + n) for a, n in items]
)


def as_set(intervals: list[tuple[int, int]]) -> set[int]:
    return {v for a, b in intervals for v in range(a, b + 1)}


@given(spans, spans, st.integers(0, 230), st.integers(0, 30))
def test_interval_algebra_matches_sets(
    a: list[tuple[int, int]], b: list[tuple[int, int]], first: int, width: int
) -> None:
    ma, mb = iv.merge(a), iv.merge(b)
    assert as_set(ma) == as_set(a)
    for (_, last), (nxt, _) in itertools.pairwise(ma):
        assert nxt > last + 1
    assert as_set(iv.subtract(ma, mb)) == as_set(a) - as_set(b)
    assert as_set(iv.intersect(ma, mb)) == as_set(a) & as_set(b)
    assert iv.total(ma) == len(as_set(a))
    assert all(iv.contains(ma, v) == (v in as_set(a)) for v in range(0, 240))
    missing = sorted(set(range(first, first + width + 1)) - as_set(a))
    assert iv.first_outside(ma, first, first + width) == (missing[0] if missing else None)
