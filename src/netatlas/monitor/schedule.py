"""When a monitor runs next. Slots are ``every`` apart from the first one; a monitor
found late (the daemon was down for several slots) runs once, now, and its next slot
is the first one after now: missed runs are not made up one by one."""

from __future__ import annotations

import math


def next_slot(due: float, every: float, now: float) -> float:
    """The first slot ``due + k * every`` (k >= 1) later than ``now``."""
    if every <= 0:
        raise ValueError("every must be positive")
    k = max(1, math.floor((now - due) / every) + 1)
    slot = due + k * every
    while slot <= now:  # float rounding
        slot += every
    return slot
