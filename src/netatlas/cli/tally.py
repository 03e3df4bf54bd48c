"""Warnings that repeat for every banner (a pattern that times out, a rule that cannot
run) are counted during a scan and said once at its end, each with its count, instead
of one stderr line per endpoint."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

# identify: its warnings are about patterns and rules, the same one again per reply
NOISY = "netatlas.identify"


class WarningTally(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.getMessage()] += 1

    def lines(self) -> list[str]:
        """One line per distinct warning, the most frequent first."""
        return [f"{msg} ({n} time{'s' if n != 1 else ''})"
                for msg, n in self.counts.most_common()]


@contextmanager
def tallied(name: str = NOISY) -> Iterator[WarningTally]:
    """Warnings of logger ``name`` (and its children) counted instead of printed while
    the block runs; the logger is as it was afterwards."""
    logger = logging.getLogger(name)
    handler = WarningTally()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
