"""Scans started through the API: checked against the server's allow list, then run
as asyncio tasks in the server process with the same pipeline the CLI uses.

A request may name its own allow list, but only to narrow the server's: every range
it names must lie inside the server's ranges, or the scan is refused before planning.
Host names are refused too — resolving them would send queries off the machine.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from netatlas import pipeline
from netatlas.api._errors import clip
from netatlas.api._limits import MAX_TARGET, MAX_TARGETS
from netatlas.model import Scan
from netatlas.scope import ScopeError, parse_targets
from netatlas.store import Store
from netatlas.store.shards import shard_tables

log = logging.getLogger(__name__)

MAX_TARGET_SPECS = MAX_TARGETS


class ScanRefused(Exception):
    """The request asks for something outside what the server may scan."""


class ScanRequestError(ValueError):
    """The request itself is malformed."""


@dataclass(slots=True)
class ScanRequest:
    targets: list[str]
    ports: str | None = None
    top_ports: int | None = None
    exclude_ports: str | None = None
    allow: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    rate: float | None = None
    method: str = "connect"  # pipeline.DISCOVER_METHODS
    concurrency: int = 200
    timeout: float = 1.0
    retries: int = 0
    grab: bool = True
    grab_concurrency: int = 32
    banner_wait: float = 1.5
    seed: int = 0
    check_default_logins: bool = False  # INTRUSIVE, opt-in (assess/intrusive/)


def _intervals(specs: list[str], what: str) -> dict[int, list[tuple[int, int]]]:
    for spec in specs:  # the scope parser quotes what it refuses: keep that short
        if len(spec) > MAX_TARGET:
            raise ScanRequestError(f"{what}: {clip(spec)} is longer than {MAX_TARGET} "
                                   "characters")
    try:
        t = parse_targets(specs, resolve=False)
    except ScopeError as exc:
        raise ScanRequestError(f"{what}: {exc}") from exc
    return {4: list(t.v4), 6: list(t.v6)}


def check_allow(specs: list[str]) -> None:
    """Raise ScanRequestError (a ValueError) unless every entry parses as a range."""
    _intervals(specs, "allow list")


def narrowed_allow(server_allow: list[str], requested: list[str]) -> list[str]:
    """The allow list a scan runs with: the request's if it lies wholly inside the
    server's, else ScanRefused. An empty request means the server's whole list."""
    if not server_allow:
        raise ScanRefused("this server has no allow list: it starts no scans")
    if not requested:
        return list(server_allow)
    outer = _intervals(server_allow, "server allow list")
    inner = _intervals(requested, "allow")
    for version, spans in inner.items():
        for first, last in spans:
            # server intervals are merged, so one of them must hold the whole span
            if not any(a <= first and last <= b for a, b in outer[version]):
                raise ScanRefused(
                    "requested allow list is wider than the server's: a request may only "
                    "narrow it"
                )
    return list(requested)


@dataclass(slots=True)
class _Running:
    scan: Scan
    task: asyncio.Task[Any]
    error: str | None = None


class ScanManager:
    def __init__(self, store: Store, server_allow: list[str],
                 exclude_ports: str | None = None, broker: str | None = None) -> None:
        self.store = store
        self.broker = broker  # scans go to a cluster's workers (netatlas.cluster)
        self.server_allow = list(server_allow)
        self.exclude_ports = exclude_ports  # server-wide ports never probed
        self._running: dict[str, _Running] = {}

    def _config(self, req: ScanRequest) -> pipeline.ScanConfig:
        if not req.targets or len(req.targets) > MAX_TARGET_SPECS:
            raise ScanRequestError(f"name between 1 and {MAX_TARGET_SPECS} targets")
        allow = narrowed_allow(self.server_allow, req.allow)
        _intervals(req.targets, "targets")  # addresses only: no name resolution here
        if req.exclude:
            _intervals(req.exclude, "exclude")
        exclude_ports = ",".join(p for p in (self.exclude_ports, req.exclude_ports) if p) or None
        if not (0 < req.concurrency <= 5000 and 0 < req.grab_concurrency <= 512):
            raise ScanRequestError("concurrency out of range")
        if not (0 < req.timeout <= 30 and 0 <= req.banner_wait <= 30 and 0 <= req.retries <= 5):
            raise ScanRequestError("timeout, banner_wait or retries out of range")
        return pipeline.ScanConfig(
            targets=list(req.targets), allow=allow, exclude=list(req.exclude),
            ports=req.ports, top_ports=req.top_ports, exclude_ports=exclude_ports,
            seed=req.seed, rate=req.rate, method=req.method, concurrency=req.concurrency,
            timeout=req.timeout,
            retries=req.retries, grab=req.grab, grab_concurrency=req.grab_concurrency,
            banner_wait=req.banner_wait, check_default_logins=req.check_default_logins,
        )

    async def start(self, req: ScanRequest) -> Scan:
        cfg = self._config(req)
        if self.broker:
            from netatlas.cluster import dispatch

            try:
                scan, _ = await run_in_threadpool(dispatch.submit, self.store, cfg,
                                                  self.broker)
            except ScopeError as exc:
                raise ScanRefused(str(exc)) from exc
            except ValueError as exc:
                raise ScanRequestError(str(exc)) from exc
            return scan
        try:
            # planning parses and checks the whole scope; keep it off the event loop
            scan, plan = await run_in_threadpool(pipeline.start_scan, self.store, cfg)
        except ScopeError as exc:
            raise ScanRefused(str(exc)) from exc
        except ValueError as exc:
            raise ScanRequestError(str(exc)) from exc
        task = asyncio.create_task(self._run(scan, cfg, plan), name=f"scan-{scan.id}")
        self._running[scan.id] = _Running(scan, task)
        return scan

    async def _run(self, scan: Scan, cfg: pipeline.ScanConfig, plan: pipeline.Plan) -> None:
        try:
            await pipeline.run(self.store, scan, cfg, plan)
        except asyncio.CancelledError:
            pass  # the runner recorded it as interrupted
        except Exception as exc:  # a failed scan must not take the server down
            log.exception("scan %s failed", scan.id)
            entry = self._running.get(scan.id)
            if entry:
                entry.error = str(exc)

    def get(self, scan_id: str) -> Scan | None:
        """The live object while this process runs it (fresher than the store)."""
        entry = self._running.get(scan_id)
        if entry:
            return entry.scan
        if (tables := shard_tables(self.store)) is not None and tables.of_scan(scan_id):
            tables.rollup(scan_id)  # a distributed scan: its row from its shards'
        return self.store.get_scan(scan_id)

    def shards(self, scan_id: str) -> list[dict[str, Any]] | None:
        """Each shard's state, worker and watermark; None for a single-process scan."""
        tables = shard_tables(self.store)
        rows = tables.of_scan(scan_id) if tables is not None else []
        return [r.to_dict() for r in rows] or None

    def is_running(self, scan_id: str) -> bool:
        entry = self._running.get(scan_id)
        return bool(entry and not entry.task.done())

    def error(self, scan_id: str) -> str | None:
        entry = self._running.get(scan_id)
        return entry.error if entry else None

    async def cancel(self, scan_id: str) -> Scan | None:
        entry = self._running.get(scan_id)
        if entry is None or entry.task.done():
            return None
        entry.task.cancel()
        await asyncio.gather(entry.task, return_exceptions=True)
        return entry.scan

    async def shutdown(self) -> None:
        for scan_id in list(self._running):
            await self.cancel(scan_id)


def scan_dict(scan: Scan, running: bool = False, error: str | None = None,
              shards: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {
        "id": scan.id, "status": scan.status, "running": running,
        "started": scan.started.isoformat(),
        "finished": scan.finished.isoformat() if scan.finished else None,
        "done": scan.done, "total": scan.total,
        "progress": round(scan.done / scan.total, 4) if scan.total else None,
        "open": scan.open_ports, "observations": scan.observations, "args": scan.args,
        "error": error,
    }
    if shards is not None:  # a distributed scan (README "Scale-out")
        out["shards"] = shards
    return out
