"""Watermark against a brute-force model, over arbitrary completion orders."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.discover import Watermark


def test_empty_and_pulled() -> None:
    w = Watermark()
    assert w.value == 0
    w.pulled(9)
    assert w.value == 10


@settings(deadline=None, max_examples=200)
@given(st.data(), st.lists(st.integers(0, 5), min_size=1, max_size=60))
def test_matches_model(data: st.DataObject, gaps: list[int]) -> None:
    positions = []
    p = -1
    for g in gaps:  # increasing, with holes (scope may skip denied positions)
        p += g + 1
        positions.append(p)
    w = Watermark()
    done: set[int] = set()
    outstanding: list[int] = []
    for pos in positions:
        w.pulled(pos)
        w.add(pos)
        outstanding.append(pos)
        # finish a random subset of what is outstanding, in random order
        k = data.draw(st.integers(0, len(outstanding)))
        for _ in range(k):
            i = data.draw(st.integers(0, len(outstanding) - 1))
            fin = outstanding.pop(i)
            w.done(fin)
            done.add(fin)
        model = min(outstanding) if outstanding else pos + 1
        assert w.value == model
        assert all(q in done for q in positions if q < w.value)
    assert len(w) == len(outstanding)
