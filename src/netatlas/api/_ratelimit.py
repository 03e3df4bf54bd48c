"""Token buckets, in memory (one server process owns its limits): one per key for the
requests it makes, and one per client address for the key checks it fails."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MAX_BUCKETS = 100_000  # anonymous (open mode) clients are keyed by address; keep it bounded


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, who: str, rate: float | None = None, burst: int | None = None) -> float:
        """Spend one token. Returns 0 when allowed, else seconds until a token is due."""
        return self._spend(who, rate, burst, spend=True)

    def wait(self, who: str, rate: float | None = None, burst: int | None = None) -> float:
        """Seconds until ``who`` has a token (0: it has one now), spending none."""
        return self._spend(who, rate, burst, spend=False)

    def _spend(self, who: str, rate: float | None, burst: int | None, spend: bool) -> float:
        rate = self.rate if rate is None else rate
        burst = self.burst if burst is None else burst
        if rate <= 0:
            return 0.0  # unlimited
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(who)
            if b is None:
                if not spend:
                    return 0.0  # a full bucket, not worth keeping
                if len(self._buckets) >= MAX_BUCKETS:
                    self._buckets.clear()
                b = self._buckets[who] = _Bucket(float(burst), now)
            b.tokens = min(float(burst), b.tokens + (now - b.stamp) * rate)
            b.stamp = now
            if b.tokens >= 1.0:
                if spend:
                    b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / rate
