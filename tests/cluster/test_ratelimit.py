"""The global rate: three workers' buckets over one Redis bucket never take more than
rate + burst in any second of Redis's clock, counted token by token."""

from __future__ import annotations

import asyncio
import threading
import time

import redis

from netatlas.cluster.lease import ShardLease
from netatlas.cluster.ratelimit import SharedBucket, default_burst, granted_per_second

RATE = 300.0


def _consume(url: str, want: int, taken: list[int]) -> None:
    async def main() -> None:
        bucket = SharedBucket(url, "rate-test", "probe", RATE)
        got = 0
        try:
            while got < want:
                n = bucket.take(7, time.monotonic())
                got += n
                if n == 0:
                    await asyncio.sleep(bucket.delay(time.monotonic()))
        finally:
            bucket.give_back(0)
            await bucket.aclose()
        taken.append(got)
        assert got <= bucket.leased  # nothing spent that Redis did not grant

    asyncio.run(main())


def test_three_workers_share_one_rate(redis_url: str) -> None:
    taken: list[int] = []
    threads = [threading.Thread(target=_consume, args=(redis_url, 300, taken))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(taken)[0] >= 300 and len(taken) == 3
    client = redis.Redis.from_url(redis_url)
    try:
        granted = granted_per_second(client, "rate-test", "probe")
    finally:
        client.close()
    assert sum(granted.values()) >= sum(taken)
    # 900 tokens at 300/s: spread over at least three seconds, none above the budget
    assert len(granted) >= 3
    assert max(granted.values()) <= RATE + default_burst(RATE)


def test_a_shard_lease_has_one_holder(redis_url: str) -> None:
    first = ShardLease(redis_url, "scan-x", 3, "w1", ttl=5.0)
    second = ShardLease(redis_url, "scan-x", 3, "w2", ttl=5.0)
    assert first.acquire()
    assert not second.acquire()
    assert (second.holder() or "").startswith("w1:")
    second.release()  # not its lease: nothing happens
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
