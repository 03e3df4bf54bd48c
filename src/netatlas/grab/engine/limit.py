"""The scan-wide cap on new grab connections: one token bucket every grab of a run
shares (discover paces its own probes; this paces what grab and the scheduler open)."""

from __future__ import annotations

import asyncio
import time

from ...ratelimit import RateBucket, TokenBucket


class ConnectLimiter:
    """``rate`` new connections per second for the whole run; ``wait`` before each.
    ``bucket``: take them from a bucket shared with other processes instead (a
    cluster's global rate)."""

    def __init__(self, rate: float, burst: float | None = None,
                 bucket: RateBucket | None = None) -> None:
        self.bucket: RateBucket = (
            bucket if bucket is not None else TokenBucket(rate, burst, now=time.monotonic()))
        self._lock: asyncio.Lock | None = None

    async def wait(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()  # made lazily: inside the running loop
        async with self._lock:  # first come, first served
            while not self.bucket.take(1, time.monotonic()):
                await asyncio.sleep(self.bucket.delay(time.monotonic()))
