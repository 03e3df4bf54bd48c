"""The coordinator's side without workers: a scan is planned and refused like a
single-process one, cut into the permutation's shards (their steps add up to the
whole scan's), queued one task a shard on a real Redis; --resume queues again only
the shards that did not finish; a file store is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from netatlas import pipeline
from netatlas.cluster import QUEUE, dispatch
from netatlas.scope import ScopeError
from netatlas.store import open_store
from netatlas.store.shards import shard_tables


def _cfg(targets: tuple[str, ...] = ("127.21.5.0/28",), **kw: object) -> pipeline.ScanConfig:
    return pipeline.ScanConfig(targets=list(targets), allow=["127.21.0.0/16"], ports="1-50",
                               exclude_ports="2024", grab=False, **kw)  # type: ignore[arg-type]


def _queued(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen(QUEUE))
    finally:
        client.close()


def test_submit_and_resume(pg_url: str, redis_url: str) -> None:
    store = open_store(pg_url)
    try:
        scan, plan = dispatch.submit(store, _cfg(), redis_url, shards=5)
        tables = shard_tables(store)
        assert tables is not None
        rows = tables.of_scan(scan.id)
        assert [r.shard for r in rows] == [0, 1, 2, 3, 4]
        assert sum(r.total for r in rows) == plan.permutation.steps == scan.total
        assert _queued(redis_url) == 5
        assert store.get_scan(scan.id).args["shards"] == 5  # type: ignore[union-attr]

        for i in (0, 3):  # two shards finished, one failed, the rest never ran
            tables.start(scan.id, i, "w1", None)
            tables.progress(scan.id, i, rows[i].total, 0, 0, status="finished")
        tables.progress(scan.id, 1, 2, 0, 0, status="failed", error="boom")
        _, again = dispatch.resume(store, scan.id, redis_url)
        assert again == [1, 2, 4]
        assert _queued(redis_url) == 5 + 3
        assert store.get_scan(scan.id).status == "running"  # type: ignore[union-attr]
    finally:
        store.close()


def test_refusals(pg_url: str, redis_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url)
    try:
        with pytest.raises(ScopeError):  # outside the scan's own allow list
            dispatch.submit(store, _cfg(targets=("127.22.0.1",)), redis_url)
        with pytest.raises(ValueError, match="--shard"):
            dispatch.submit(store, _cfg(shard=(1, 2)), redis_url)
    finally:
        store.close()
    assert _queued(redis_url) == 0
    lite = open_store(tmp_path / "x.db")
    try:
        with pytest.raises(ValueError, match="PostgreSQL"):
            dispatch.submit(lite, _cfg(), redis_url)
    finally:
        lite.close()
