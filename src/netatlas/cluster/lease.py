"""A shard runs on one worker at a time: a lease in Redis, taken before the run,
renewed while it runs, given back at the end.

A task delivered again while its shard still runs (the broker's visibility timeout ran
out on a long shard) finds the lease held and retries later instead of running the
shard twice; a worker that died stops renewing, and its lease lapses after ``ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import redis
import redis.asyncio as aredis

TTL = 10.0  # seconds a lease outlives its last renewal
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(scan_id: str, shard: int) -> str:
    return f"netatlas:lease:{scan_id}:{shard}"


class ShardLease:
    def __init__(self, url: str, scan_id: str, shard: int, holder: str,
                 ttl: float = TTL) -> None:
        self.url = url
        self.key = lease_key(scan_id, shard)
        self.token = f"{holder}:{uuid.uuid4().hex[:8]}"
        self.ttl_ms = int(ttl * 1000)

    def acquire(self) -> bool:
        client = redis.Redis.from_url(self.url)
        try:
            return bool(client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        finally:
            client.close()

    def holder(self) -> str | None:
        client = redis.Redis.from_url(self.url)
        try:
            value = client.get(self.key)
        finally:
            client.close()
        if isinstance(value, bytes):
            return value.decode()
        return value or None

    def release(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.eval(RELEASE, 1, self.key, self.token)
        finally:
            client.close()

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew every third of the TTL until ``stop`` is set (run beside the shard; it
        stops between two calls, never inside one)."""
        client: Any = aredis.Redis.from_url(self.url)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.ttl_ms / 3000)
                if stop.is_set():
                    break
                with contextlib.suppress(redis.RedisError):
                    await client.eval(RENEW, 1, self.key, self.token, self.ttl_ms)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), 2.0)
