"""The resume watermark: how many leading permutation positions are fully done."""

from __future__ import annotations

from collections import OrderedDict


class Watermark:
    """Tracks positions that were pulled but are not finished yet.

    Positions are pulled in increasing order and finish in any order. Unfinished ones
    sit in an insertion-ordered map, so the oldest is always first: the watermark is
    that position, or one past the last position pulled when nothing is outstanding.
    Memory is O(outstanding) = O(concurrency); every operation is O(1).

    Hot path note: a position that is pulled and finished within one batch never needs
    to be recorded; call :meth:`pulled` for it and :meth:`add` only for those that stay
    outstanding, in increasing order.
    """

    __slots__ = ("_next", "_open")

    def __init__(self, start: int = 0) -> None:
        self._open: OrderedDict[int, None] = OrderedDict()
        self._next = start

    def pulled(self, last: int) -> None:
        """Positions up to ``last`` have been taken from the iterator."""
        self._next = last + 1

    def add(self, position: int) -> None:
        self._open[position] = None

    def done(self, position: int) -> None:
        self._open.pop(position, None)

    def __contains__(self, position: int) -> bool:
        return position in self._open

    def __len__(self) -> int:
        return len(self._open)

    @property
    def value(self) -> int:
        for first in self._open:
            return first
        return self._next
