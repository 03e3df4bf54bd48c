"""The coordinator's side: plan a scan, cut it into shards, queue them, follow them.

Planning happens here, before anything is queued: a target outside the scan's allow
list refuses the whole scan, as a single-process scan does. The shards are the
permutation's own (``Permutation(shard=(i, N))``): disjoint slices whose positions
together are the unsharded scan's, so progress adds up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from netatlas import pipeline
from netatlas.cluster.app import QUEUE, TASK_NAME, make_app
from netatlas.model import Scan
from netatlas.scope import Permutation
from netatlas.store import Store
from netatlas.store.shards import ShardRow, ShardTables, shard_tables

DEFAULT_SHARDS = 8
POLL_SECONDS = 1.0


def tables_of(store: Store) -> ShardTables:
    tables = shard_tables(store)
    if tables is None:
        raise ValueError("a distributed scan needs a PostgreSQL store that every worker "
                         "can reach (--db postgresql://…); this store is a file")
    return tables


def submit(store: Store, cfg: pipeline.ScanConfig, broker: str,
           shards: int = DEFAULT_SHARDS, args: dict[str, Any] | None = None
           ) -> tuple[Scan, pipeline.Plan]:
    """Plan (scope-checked), record the scan and its shards, queue one task a shard.
    ``args`` are recorded with the scan's own (a monitor's run names its monitor)."""
    tables = tables_of(store)
    if shards < 1:
        raise ValueError("--shards must be at least 1")
    if cfg.shard != (0, 1):
        raise ValueError("--shard cannot go with --broker: the scan is cut into --shards")
    scan, plan = pipeline.start_scan(store, cfg)
    scan.args.update(args or {})
    scan.args["shards"] = shards
    store.update_scan(scan)
    store.flush()  # the scan row exists before any worker looks for it
    rows = [ShardRow(scan.id, i, shards,
                     total=Permutation(plan.space.size, cfg.seed, (i, shards)).steps)
            for i in range(shards)]
    tables.create(rows)
    enqueue(broker, scan.id, [r.shard for r in rows], shards)
    return scan, plan


def resume(store: Store, scan_id: str, broker: str) -> tuple[Scan, list[int]]:
    """Queue again every shard of a distributed scan that has not finished."""
    tables = tables_of(store)
    scan = store.get_scan(scan_id)
    if scan is None:
        raise LookupError(f"no scan with id {scan_id!r}")
    rows = tables.requeue(scan_id)
    if not tables.of_scan(scan_id):
        raise ValueError(f"scan {scan_id} was not a distributed scan: resume it without "
                         "--broker")
    shards = int(scan.args.get("shards", 1))
    enqueue(broker, scan_id, [r.shard for r in rows], shards)
    tables.rollup(scan_id)
    return scan, [r.shard for r in rows]


def enqueue(broker: str, scan_id: str, shards: list[int], count: int) -> None:
    app = make_app(broker)
    try:
        with app.producer_or_acquire() as producer:
            for i in shards:
                app.send_task(TASK_NAME, args=[scan_id, i, count], queue=QUEUE,
                              producer=producer)
    finally:
        app.close()


def follow(store: Store, scan_id: str, on_progress: Callable[[Scan], None] | None = None,
           poll: float = POLL_SECONDS, until: Callable[[], bool] | None = None) -> Scan:
    """Roll the shards up into the scan row every ``poll`` seconds until every shard has
    ended (or ``until()``); returns the scan as last rolled up."""
    tables = tables_of(store)
    while True:
        status = tables.rollup(scan_id)
        scan = store.get_scan(scan_id)
        assert scan is not None
        if on_progress:
            on_progress(scan)
        if status != "running" or (until is not None and until()):
            return scan
        time.sleep(poll)
