"""The shard table of distributed scans (PostgreSQL only: workers on many machines
share it; a SQLite store has none)."""

from __future__ import annotations

from netatlas.model import Observation, utcnow
from netatlas.store import open_store
from netatlas.store.shards import ShardRow, shard_tables


def test_sqlite_has_no_shard_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(tmp_path / "s.db")
    try:
        assert shard_tables(store) is None
    finally:
        store.close()


def test_shard_life_cycle(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        t = shard_tables(store)
        assert t is not None
        t.create([ShardRow("scan-1", i, 3, total=10 + i) for i in range(3)])
        t.create([ShardRow("scan-1", 0, 3, total=99)])  # queued again: nothing changes
        assert [(r.shard, r.status, r.total) for r in t.of_scan("scan-1")] == [
            (0, "queued", 10), (1, "queued", 11), (2, "queued", 12)]
        row = t.start("scan-1", 1, "w1@h", "127.21.0.2")
        assert (row.status, row.attempts, row.worker, row.vantage) == (
            "running", 1, "w1@h", "127.21.0.2")
        t.progress("scan-1", 1, 5, 2, 1)
        again = t.start("scan-1", 1, "w2@h", "127.21.0.3")  # its worker died: re-run
        assert (again.done, again.open_ports, again.attempts, again.worker) == (
            5, 2, 2, "w2@h")
        t.progress("scan-1", 1, 11, 3, 2, status="finished")
        t.progress("scan-1", 1, 0, 0, 0)  # a late checkpoint never moves a finished shard
        t.mark("scan-1", 2, "refused", "w3@h", "outside --allow")
        rows = {r.shard: r for r in t.of_scan("scan-1")}
        assert (rows[1].status, rows[1].done) == ("finished", 11)
        assert (rows[2].status, rows[2].error) == ("refused", "outside --allow")
        assert [r.shard for r in t.requeue("scan-1")] == [0, 2]
        assert t.get("scan-1", 9) is None

        store.add(Observation(ip="127.21.0.9", port=80, transport="tcp", timestamp=utcnow(),
                              scan_id="scan-1"))
        store.flush()
        assert t.observed("scan-1", "127.21.0.9", 80, "tcp")
        assert not t.observed("scan-2", "127.21.0.9", 80, "tcp")
        assert not t.observed("scan-1", "127.21.0.9", 81, "tcp")
    finally:
        store.close()
