"""One rate budget for a whole distributed scan: a token bucket in Redis.

The bucket lives in one Redis hash; a Lua script refills it from Redis's own clock and
grants up to the tokens asked for, atomically, so N workers together never take more
than ``rate`` per second plus ``burst``. Each worker leases small chunks (about 50 ms
of the global rate) and spends them locally, so the discover engines' hot path never
waits on the network: ``SharedBucket`` has the ``take / give_back / delay`` of the
engines' own ``TokenBucket``. Every grant is also counted per Redis second (``granted``
hash), which is what the tests and ``netatlas scans`` read back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aredis

LEASE = """
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(b[1]), tonumber(b[2])
if tokens == nil then tokens = math.min(1, burst); ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate); ts = now end
local granted = math.max(0, math.min(wanted, math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', ts))
redis.call('EXPIRE', KEYS[1], 86400)
if granted > 0 then
  redis.call('HINCRBY', KEYS[2], t[1], granted)
  redis.call('EXPIRE', KEYS[2], 86400)
end
local wait = 0
if granted == 0 then wait = (1 - tokens) / rate end
return {granted, string.format('%.6f', wait)}
"""

MIN_WAIT = 0.002


def bucket_keys(scan_id: str, kind: str) -> tuple[str, str]:
    """(bucket hash, per-second grant counts) of one scan's ``kind`` budget."""
    base = f"netatlas:rate:{scan_id}:{kind}"
    return base, base + ":granted"


def default_burst(rate: float) -> float:
    """100 ms of the global rate: room for each worker's lease, still smooth."""
    return max(1.0, rate / 10.0)


class SharedBucket:
    """A worker's view of the global bucket: tokens leased from Redis, spent locally.
    Use inside one running event loop; ``aclose`` when the run ends."""

    def __init__(self, url: str, scan_id: str, kind: str, rate: float,
                 burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.url = url
        self.keys = bucket_keys(scan_id, kind)
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else default_burst(self.rate)
        self.chunk = max(1, int(min(self.burst, self.rate / 20.0)))
        self.leased = 0  # tokens granted to this worker so far
        self._tokens = 0
        self._wait = MIN_WAIT
        self._want: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None
        self._closing = False

    # -- what the engines call (synchronously, inside the loop) ---------------------------
    def take(self, wanted: int, now: float) -> int:
        self._ensure()
        granted = min(wanted, self._tokens)
        self._tokens -= granted
        if self._tokens < self.chunk and self._want is not None:
            self._want.set()
        return max(granted, 0)

    def give_back(self, n: int) -> None:
        self._tokens += n

    def delay(self, now: float) -> float:
        self._ensure()
        return 0.0 if self._tokens >= 1 else max(self._wait, MIN_WAIT)

    # -- leasing ------------------------------------------------------------------------
    def _ensure(self) -> None:
        if self._task is None:
            self._want = asyncio.Event()
            self._want.set()
            self._task = asyncio.get_running_loop().create_task(self._refill())

    async def _refill(self) -> None:
        assert self._want is not None
        self._client = aredis.Redis.from_url(self.url)
        script = self._client.register_script(LEASE)
        while not self._closing:
            await self._want.wait()
            if self._closing:
                break
            if self._tokens >= self.chunk:
                self._want.clear()
                continue
            granted, wait = await script(keys=list(self.keys),
                                         args=[self.rate, self.burst, self.chunk])
            granted = int(granted)
            self._tokens += granted
            self.leased += granted
            self._wait = float(wait)
            if not granted:
                await asyncio.sleep(max(self._wait, MIN_WAIT))

    async def aclose(self) -> None:
        """Stop leasing. The refill loop is asked to stop between two calls to Redis
        (cancelling redis-py in the middle of a reply can leave the close hanging)."""
        self._closing = True
        if self._task is not None:
            assert self._want is not None
            self._want.set()
            done, _ = await asyncio.wait({self._task}, timeout=2.0)
            if not done:
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)
            if self._task.done() and not self._task.cancelled():
                self._task.exception()  # retrieved: an error here only ends leasing
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), 2.0)


def granted_per_second(client: Any, scan_id: str, kind: str = "probe") -> dict[int, int]:
    """Tokens granted in each Redis second (a sync redis client)."""
    raw = client.hgetall(bucket_keys(scan_id, kind)[1])
    return {int(k): int(v) for k, v in raw.items()}
