"""The pacing loop both discovery engines (TCP connects, UDP datagrams) share: send in
batches as the token bucket and the concurrency cap allow, pause after a local shortage
(EADDRNOTAVAIL, EMFILE), and wake the driver from a timer when it may go on."""

from __future__ import annotations

import asyncio

from netatlas.discover._stats import DiscoverStats
from netatlas.ratelimit import RateBucket, TokenBucket


class Pacer:
    """Base of one engine run. Subclasses say how many probes they could send now
    (``_batch_size``), whether probes wait to be sent again (``_requeued``), and send
    (``_send_batch``, returning how many it used)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: float | None,
                 stats: DiscoverStats, bucket: RateBucket | None = None) -> None:
        self.loop = loop
        self.stats = stats
        self.started = loop.time()
        self.bucket: RateBucket | None = (
            bucket if bucket is not None else TokenBucket(rate, now=self.started) if rate
            else None)
        self.exhausted = False
        self.backoff_until = 0.0
        self.waiter: asyncio.Future[None] | None = None
        self.pump_timer: asyncio.TimerHandle | None = None

    def _batch_size(self) -> int:
        raise NotImplementedError

    def _requeued(self) -> bool:
        raise NotImplementedError

    def _send_batch(self, n: int) -> int:
        raise NotImplementedError

    def pump(self) -> bool:
        """Send one batch if allowed now; True if another could follow at once."""
        if self.exhausted and not self._requeued():
            return False
        now = self.loop.time()
        self.stats.elapsed = now - self.started
        if now < self.backoff_until:
            self._arm_pump(self.backoff_until)
            return False
        n = self._batch_size()
        if n <= 0:
            return False  # a probe finishing or timing out wakes us
        if self.bucket is not None:
            n = self.bucket.take(n, now)
            if n == 0:
                self._arm_pump(now + self.bucket.delay(now))
                return False
        used = self._send_batch(n)
        if self.bucket is not None and used < n:
            self.bucket.give_back(n - used)
        if self.backoff_until > now:  # a local shortage: pause, then go on
            self._arm_pump(self.backoff_until)
            return False
        return not (self.exhausted and not self._requeued())

    async def wait(self) -> None:
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _arm_pump(self, when: float) -> None:
        t = self.pump_timer
        if t is not None and not t.cancelled() and t.when() <= when:
            return
        if t is not None:
            t.cancel()
        self.pump_timer = self.loop.call_at(when, self._on_pump_timer)

    def _on_pump_timer(self) -> None:
        self.pump_timer = None
        self._wake()
