"""Closed integer intervals ``(first, last)``: the only representation of address sets.

Every set is kept as a sorted list of disjoint, non-adjacent intervals, so memory is
O(#intervals) whatever the number of addresses.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

Interval = tuple[int, int]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and coalesce overlapping or adjacent intervals."""
    out: list[Interval] = []
    for first, last in sorted(intervals):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """``a - b`` for merged lists; linear in ``len(a) + len(b)``."""
    out: list[Interval] = []
    j = 0
    for first, last in a:
        cur = first
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= last:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > last:
                break
            k += 1
        if cur <= last:
            out.append((cur, last))
    return out


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """``a & b`` for merged lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        first = max(a[i][0], b[j][0])
        last = min(a[i][1], b[j][1])
        if first <= last:
            out.append((first, last))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def total(intervals: Iterable[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def contains(merged: list[Interval], value: int) -> bool:
    """Membership in a merged list by bisection on the interval starts."""
    i = bisect_right(merged, (value, float("inf"))) - 1
    return i >= 0 and merged[i][1] >= value


def first_outside(merged: list[Interval], first: int, last: int) -> int | None:
    """The smallest value of ``[first, last]`` not covered by ``merged``, or None.

    O(log n): merged intervals are never adjacent, so one interval covers it or none.
    """
    i = bisect_right(merged, (first, float("inf"))) - 1
    if i < 0 or merged[i][1] < first:
        return first
    if merged[i][1] >= last:
        return None
    return merged[i][1] + 1
