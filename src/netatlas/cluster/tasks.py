"""One shard of a distributed scan, run on a worker.

The task reads the scan's plan from the store, checks it against the worker's own
allow list (refused and logged if any target lies outside it), takes the shard's lease,
and runs the same asyncio pipeline a single-process scan runs, over its slice of the
permutation, from the shard's stored watermark. Checkpoints flush the store before the
watermark moves, so a re-run (after its worker died) never skips a record and — asking
the store what an earlier attempt already wrote — never stores one twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from celery import Celery, Task

from netatlas import pipeline
from netatlas.cluster.app import TASK_NAME
from netatlas.cluster.lease import ShardLease
from netatlas.cluster.ratelimit import SharedBucket
from netatlas.cluster.settings import WorkerSettings, current
from netatlas.model import Endpoint, Scan
from netatlas.scope import ScopeError, parse_targets
from netatlas.store import Store, open_store
from netatlas.store.shards import ShardTables, shard_tables
from netatlas.vantage import SOURCE_IP

log = logging.getLogger("netatlas.worker")


def register(app: Celery) -> None:
    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
              ignore_result=True, max_retries=None)
    def run_shard(self: Task, scan_id: str, shard: int, count: int) -> str:
        settings = current()
        outcome = execute_shard(settings, scan_id, shard, count)
        if outcome == "busy":  # another worker holds the lease: look again later
            raise self.retry(countdown=settings.lease_ttl)
        return outcome


def check_worker_scope(settings: WorkerSettings, cfg: pipeline.ScanConfig) -> None:
    """ScopeError unless every target (as resolved when the scan started) and the
    proxy canary lie inside the worker's own allow list."""
    scope = settings.scope()
    specs = [a for spec in cfg.targets for a in cfg.resolved.get(spec, [spec])]
    try:
        scope.check_targets(parse_targets(specs, resolve=False))
    except ScopeError as exc:
        raise ScopeError(f"worker {settings.name} refuses: {exc}") from None
    if cfg.proxy_canary:
        pipeline.check_canary(scope, cfg.proxy_canary)


def execute_shard(settings: WorkerSettings, scan_id: str, shard: int, count: int) -> str:
    """Run one shard to its end; returns finished | failed | refused | busy | gone."""
    store = open_store(settings.db)
    try:
        tables = shard_tables(store)
        scan = store.get_scan(scan_id)
        if tables is None or scan is None:
            log.error("shard %s/%s of scan %s: no such scan in %s", shard, count, scan_id,
                      store.url)
            return "gone"
        row = tables.get(scan_id, shard)
        if row is None or row.status in ("finished", "refused"):
            return row.status if row else "gone"
        cfg = pipeline.ScanConfig.from_args(scan.args)
        cfg.shard = (shard, count)
        try:
            check_worker_scope(settings, cfg)
            plan = pipeline.plan_scan(cfg)
        except ScopeError as exc:
            log.warning("shard %s/%s of scan %s refused: %s", shard, count, scan_id, exc)
            tables.mark(scan_id, shard, "refused", settings.name, str(exc))
            tables.rollup(scan_id)
            return "refused"
        lease = ShardLease(settings.broker, scan_id, shard, settings.name, settings.lease_ttl)
        if not lease.acquire():
            log.info("shard %s/%s of scan %s runs elsewhere (%s)", shard, count, scan_id,
                     lease.holder())
            return "busy"
        try:
            return _run(settings, store, tables, scan, cfg, plan, lease)
        finally:
            lease.release()
    finally:
        store.close()


def _run(settings: WorkerSettings, store: Store, tables: ShardTables, scan: Scan,
         cfg: pipeline.ScanConfig, plan: pipeline.Plan, lease: ShardLease) -> str:
    shard, count = cfg.shard
    row = tables.start(scan.id, shard, settings.name, settings.source_ip)
    view = Scan(id=scan.id, started=scan.started, args=scan.args, done=row.done,
                total=plan.permutation.steps, open_ports=row.open_ports,
                observations=row.observations)
    log.info("shard %s/%s of scan %s: attempt %s from position %s of %s", shard, count,
             scan.id, row.attempts, row.done, view.total)

    def checkpoint(s: Scan) -> None:
        store.flush()  # the records below the watermark are committed first
        tables.progress(s.id, shard, s.done, s.open_ports, s.observations,
                        status="finished" if s.status == "finished" else "running")

    async def already_stored(ep: Endpoint) -> bool:
        return await asyncio.to_thread(tables.observed, scan.id, ep.ip, ep.port, ep.transport)

    async def main() -> None:
        SOURCE_IP.set(settings.source_ip)
        buckets: list[SharedBucket] = []
        if cfg.rate:
            buckets = [SharedBucket(settings.broker, scan.id, kind, cfg.rate)
                       for kind in ("probe", "connect")]
        hooks = pipeline.RunHooks(
            checkpoint=checkpoint,
            probe_bucket=buckets[0] if buckets else None,
            connect_bucket=buckets[1] if buckets else None,
            # a shard started before may have stored records past its watermark
            already_stored=already_stored if row.attempts > 1 else None,
            worker=settings.name, vantage=settings.source_ip,
        )
        stop = asyncio.Event()
        keeper = asyncio.create_task(lease.keep(stop))
        try:
            await pipeline.run(store, view, cfg, plan, hooks=hooks)
        finally:
            stop.set()
            for b in buckets:
                await b.aclose()
            await asyncio.wait({keeper}, timeout=5.0)

    try:
        asyncio.run(main())
    except Exception as exc:
        log.exception("shard %s/%s of scan %s failed", shard, count, scan.id)
        _record_failure(store, tables, view, shard, exc)
        return "failed"
    tables.rollup(scan.id)
    log.info("shard %s/%s of scan %s %s: %s open, %s observations", shard, count, scan.id,
             view.status, view.open_ports, view.observations)
    return view.status


def _record_failure(store: Store, tables: ShardTables, view: Scan, shard: int,
                    exc: Exception) -> None:
    error: Any = f"{type(exc).__name__}: {exc}"[:500]
    try:
        store.flush()
    except Exception:  # the store itself failed: the watermark stays where it was
        log.exception("flush after a failed shard")
        return
    tables.progress(view.id, shard, view.done, view.open_ports, view.observations,
                    status="failed", error=error)
    tables.rollup(view.id)
