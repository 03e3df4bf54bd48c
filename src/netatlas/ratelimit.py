"""A token bucket: the one global probe rate of a run (discover's probes) and its cap on
new grab connections (``grab.engine.limit``). Here, beside both, so neither imports the
other for it."""

from __future__ import annotations

from typing import Protocol


class RateBucket(Protocol):
    """What the engines take tokens from: a ``TokenBucket`` of their own, or one shared
    by many processes (``netatlas.cluster.ratelimit``)."""

    def take(self, wanted: int, now: float) -> int: ...
    def give_back(self, n: int) -> None: ...
    def delay(self, now: float) -> float: ...


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts with one token so a
    run never opens with a burst larger than the steady rate allows."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float | None = None, now: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = float(rate)
        # 10 ms worth of probes: big enough to batch, small enough to stay smooth.
        self.burst = float(burst) if burst is not None else max(1.0, self.rate / 100.0)
        self._tokens = min(1.0, self.burst)
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self, wanted: int, now: float) -> int:
        """Take up to ``wanted`` whole tokens; return how many were granted."""
        self._refill(now)
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return max(granted, 0)

    def give_back(self, n: int) -> None:
        """Return tokens taken but not spent (the probe iterator ran dry)."""
        self._tokens = min(self.burst, self._tokens + n)

    def delay(self, now: float) -> float:
        """Seconds until one whole token is available."""
        self._refill(now)
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate
