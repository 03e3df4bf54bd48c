"""The store at scale: ingest rate, bytes on disk and query latency of each backend over
N synthetic observations (default 10M, rescans included), beside a physical reference
measured in the same run.

    .venv/bin/python bench/store_scale.py                              # 10M, both backends
    .venv/bin/python bench/store_scale.py --rows 200000 --backends sqlite
    .venv/bin/python bench/store_scale.py --rows 1000000 --db /tmp/1m.db   # fill and keep it
    .venv/bin/python bench/store_scale.py --rows 1000000 --db /tmp/1m.db --repeat 50  # reuse
    .venv/bin/python bench/store_scale.py --backends postgres --keep   # leave the server up
    .venv/bin/python bench/store_scale.py --backends postgres --pg-url postgresql://...
    .venv/bin/python bench/store_scale.py --rows 200000 --compact      # then `store compact`
    .venv/bin/python bench/store_scale.py --rows 200000 --compact --full  # and then --full

Observations come from ``History`` in bench/_synthetic.py: each endpoint seen 2-5 times in
weekly rescans (some with a new version or product), TLS certificates shared by many
hosts, risks, CVEs, tags, CPEs, locations; addresses only in 127.64.0.0/10 (loopback),
so nothing in a store filled here could ever point a scan off the machine.

Per backend (each in a child process of its own, so its peak RSS is its own):

- ingest: ``store.add_many(generator)`` then ``store.flush()``: observations/s (progress
  on stderr every 1M, or every fifth of a smaller run), bytes on disk per observation
  (``store.disk_bytes()`` / all observations, history included), peak RSS
  (``resource.getrusage``);
- the physical reference, same rows as (ip, port, ts, record JSON): SQLite
  ``executemany`` into a bare table, PostgreSQL psycopg ``cursor.copy()`` into a bare
  UNLOGGED table, no indexes either way — what the disk and the server can do at all
  (encoding the rows in Python is not timed);
- queries through the ``Store`` interface (the API is a thin front over it): p50 and p95
  over ``--repeat`` runs after one untimed warm-up, each with what it returned and how
  many observations match.

Goals: ingest >= 30,000 obs/s, query p95 < 100 ms, facets p95 < 500 ms, <= 600 bytes an
observation. "today" are the figures from the issue, measured before this work at 200k
rows with bench/api_search.py (its plainer mix, through the API): a yardstick, not the
same measurement.

A SQLite store is filled in a temp dir and a PostgreSQL one in a TempPostgres started
here (loopback only), both removed afterwards unless ``--keep``. ``--db`` / ``--pg-url``
name a store to fill, or one this script filled before with the same --rows and --seed,
which is then reused (ingest is not measured again); those are never removed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _synthetic import History
from netatlas.lab.process import descendants, peak_rss_kib
from netatlas.model import Observation
from netatlas.store import Store, open_store
from netatlas.store.rows import to_row

BACKENDS = ("sqlite", "postgres")
META_KEY = "bench.store_scale"
REF_CHUNK = 10_000  # reference rows a transaction / a COPY
REF_TABLE = "bench_store_scale_reference"

GOAL_INGEST = 30_000  # observations/s
GOAL_QUERY_MS = 100.0  # p95
GOAL_FACETS_MS = 500.0  # p95
GOAL_BYTES = 600  # on disk per observation: half of today's 1.2 KB

# Today's figures, from the issue (before this work, 200k rows, bench/api_search.py).
TODAY_INGEST = 3_700  # observations/s
TODAY_BYTES = 1_200  # bytes on disk per observation
TODAY_MS = {"nginx": 246.0, "jenkins": 330.0, "page50": 424.0, "facets": 107.0}
TODAY_LINE = ("ingest 3.7k obs/s · 1.2 KB/obs · product:nginx version:>1.20 p50 246 ms · "
              "http.title:Jenkins* 330 ms · page 50 424 ms · facets 107 ms")

PAGE_QUERY = "service:http"


def rss_mb() -> float:
    """Peak resident set of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_hwm_mb() -> float:
    """Summed peak RSS (VmHWM) of this process's descendants alive now: a bulk add's
    encoder processes (store/encoding.py), which rss_mb does not see."""
    return sum(map(peak_rss_kib, descendants(os.getpid()))) / 1024


# The TempPostgres this run started (its postmaster's PID): its CPU counts as the store's.
SERVER_PID: int | None = None


def tree_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by this process (the caller's thread and
    the store's writer), the processes under it that are not PostgreSQL (the store's
    encoders) and a TempPostgres server with its backends: each one's own time and what
    it collected from its exited children."""
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    out = {"bench": 0.0, "encoders": 0.0, "postgres": 0.0}
    server = [SERVER_PID, *descendants(SERVER_PID)] if SERVER_PID else []
    for pid in [me, *descendants(me), *server]:
        try:
            with open(f"/proc/{pid}/stat") as f:
                name, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
        except OSError:
            continue  # exited meanwhile
        used = sum(int(x) for x in rest.split()[11:15]) / tick  # utime stime cutime cstime
        role = "bench" if pid == me else "postgres" if name == "postgres" else "encoders"
        out[role] += used
    return out


def progress_every(rows: int) -> int:
    return 1_000_000 if rows >= 2_000_000 else max(1, rows // 5)


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the generator alone ------------------------------------------------------------------

def generator_rates(rows: int, seed: int, sample: int = 200_000) -> tuple[float, float, int]:
    """(generator obs/s, to_row obs/s, sample size): the generator alone over a
    full small history, then again with the row encoding ``add()`` does in the caller's
    thread (its cost is the difference)."""
    n = min(rows, sample)
    t = time.perf_counter()
    for _ in History(n, seed):
        pass
    gen = time.perf_counter() - t
    t = time.perf_counter()
    for obs in History(n, seed):
        to_row(obs)
    both = time.perf_counter() - t
    return n / gen, n / max(both - gen, 1e-9), n


# -- the physical reference -----------------------------------------------------------------

def _ref_rows(history: Iterable[Observation]) -> Iterator[list[tuple[str, int, Any, str]]]:
    """Chunks of (ip, port, timestamp, record JSON) — the same rows the store gets."""
    chunk: list[tuple[str, int, Any, str]] = []
    for obs in history:
        chunk.append((obs.ip, obs.port, obs.timestamp, json.dumps(
            obs.to_record(), ensure_ascii=False, separators=(",", ":"))))
        if len(chunk) == REF_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Reference:
    what: str
    rows: int
    seconds: float  # writing only
    disk: int
    wal: int | None = None  # SQLite: of which the -wal file

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def sqlite_reference(path: Path, history: History) -> Reference:
    """executemany into a bare table, no indexes, the store's journal settings."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE reference (ip TEXT NOT NULL, port INTEGER NOT NULL,"
                     " ts REAL NOT NULL, record TEXT NOT NULL)")
        rows = 0
        spent = 0.0
        for chunk in _ref_rows(history):
            values = [(ip, port, ts.timestamp(), rec) for ip, port, ts, rec in chunk]
            t = time.perf_counter()
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO reference VALUES (?, ?, ?, ?)", values)
            conn.execute("COMMIT")
            spent += time.perf_counter() - t
            rows += len(values)
        disk = sum(os.path.getsize(p) for p in (str(path), f"{path}-wal")
                   if os.path.exists(p))
        wal = _size(f"{path}-wal")
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Reference("executemany, bare table, no indexes", rows, spent, disk, wal)


def _copy_text(value: str) -> str:
    """A value in COPY's text format (JSON text holds no raw tabs or newlines)."""
    return value.replace("\\", "\\\\")


def postgres_reference(url: str, history: History) -> Reference:
    """COPY into a bare UNLOGGED table, no indexes, dropped afterwards."""
    import psycopg  # only the PostgreSQL child needs it

    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {REF_TABLE}")
        conn.execute(f"CREATE UNLOGGED TABLE {REF_TABLE}"
                     " (ip inet NOT NULL, port integer NOT NULL, ts timestamptz NOT NULL,"
                     " record jsonb NOT NULL)")
        conn.commit()
        try:
            rows = 0
            spent = 0.0
            for chunk in _ref_rows(history):
                data = "".join(f"{ip}\t{port}\t{ts.isoformat()}\t{_copy_text(rec)}\n"
                               for ip, port, ts, rec in chunk).encode()
                t = time.perf_counter()
                with conn.cursor() as cur, cur.copy(
                        f"COPY {REF_TABLE} (ip, port, ts, record) FROM STDIN") as copy:
                    copy.write(data)
                conn.commit()
                spent += time.perf_counter() - t
                rows += len(chunk)
            row = conn.execute(f"SELECT pg_total_relation_size('{REF_TABLE}')").fetchone()
            disk = int(row[0]) if row else 0
        finally:
            conn.rollback()
            conn.execute(f"DROP TABLE IF EXISTS {REF_TABLE}")
            conn.commit()
    return Reference("COPY, bare UNLOGGED table, no indexes", rows, spent, disk)


# -- ingest -----------------------------------------------------------------------------------

@dataclass
class Ingest:
    rows: int
    seconds: float
    generating: float  # of which in the generator (same thread)
    disk: int
    empty_disk: int
    rss_mb: float
    workers_mb: float  # the encoder processes' peak RSS, summed
    wal: int | None = None  # SQLite: of which the -wal file
    cpu: dict[str, float] | None = None  # CPU seconds used during the fill, by role

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def store_rate(self) -> float:
        return self.rows / max(self.seconds - self.generating, 1e-9)

    @property
    def store_cpu_us(self) -> float:
        """CPU per observation outside the generator (its time is CPU: it only computes)."""
        return max(sum((self.cpu or {}).values()) - self.generating, 0.0) / self.rows * 1e6

    def cpu_split(self) -> str:
        """Each role's CPU per observation (the generator's out of the bench's)."""
        cpu = dict(self.cpu or {})
        cpu["bench"] = max(cpu.get("bench", 0.0) - self.generating, 0.0)
        return ", ".join(f"{role} {seconds / self.rows * 1e6:,.0f}"
                         for role, seconds in cpu.items() if seconds)


def fill(store: Store, history: History) -> Ingest:
    empty_disk = store.disk_bytes()
    for scan in history.scans():
        store.begin_scan(scan)
    store.flush()
    every = progress_every(history.n)
    gen_time = 0.0
    cpu_before = tree_cpu_seconds()
    started = time.perf_counter()

    def counted() -> Iterator[Observation]:
        nonlocal gen_time
        it = iter(history)
        last_t, last_i = started, 0
        i = 0
        while True:
            t = time.perf_counter()
            obs = next(it, None)
            gen_time += time.perf_counter() - t
            if obs is None:
                return
            yield obs
            i += 1
            if i % every == 0:
                now = time.perf_counter()
                log(f"  {i:>12,} observations  {i / (now - started):>9,.0f} obs/s running"
                    f"  ({(i - last_i) / (now - last_t):,.0f} obs/s the last {every:,},"
                    f" peak RSS {rss_mb():,.0f} MB)")
                last_t, last_i = now, i

    store.add_many(counted())
    store.flush()
    seconds = time.perf_counter() - started
    cpu_after = tree_cpu_seconds()
    cpu = {role: cpu_after[role] - cpu_before[role] for role in cpu_after}
    return Ingest(history.n, seconds, gen_time, store.disk_bytes(), empty_disk, rss_mb(),
                  children_hwm_mb(), cpu=cpu)


# -- queries ------------------------------------------------------------------------------------

@dataclass
class Timing:
    label: str
    p50: float  # ms
    p95: float
    results: int  # what the call returned: rows, a count, facet values
    matches: int | None  # observations the query matches (count), untimed
    goal: float | None  # p95 goal, ms
    today: float | None


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    result = fn()  # warm-up: caches, plans, connections
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    p50 = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]
    return p50, p95, result


def time_queries(store: Store, history: History, repeat: int) -> tuple[list[Timing], str]:
    host_ip = history.sample_host()
    Q, F = GOAL_QUERY_MS, GOAL_FACETS_MS
    # (label, call, how many it returned, query to count matches of, goal, today)
    plan: list[tuple[str, Callable[[], Any], Callable[[Any], int], str | None,
                     float, float | None]] = []

    def search(label: str, q: str, today: float | None = None) -> None:
        plan.append((label, lambda: store.search(q, limit=100), len, q, Q, today))

    search('search "" (everything, limit 100)', "")
    search("port:22", "port:22")
    search("product:nginx version:>1.20", "product:nginx version:>1.20", TODAY_MS["nginx"])
    search("net:127.64.0.0/16 -port:80", "net:127.64.0.0/16 -port:80")
    search('full text "Dashboard"', '"Dashboard"')
    search("http.title:Jenkins*", "http.title:Jenkins*", TODAY_MS["jenkins"])
    search("has_vuln:true", "has_vuln:true")
    plan.append((f"host({host_ip}) with history", lambda: store.host(host_ip), len, None, Q,
                 None))
    plan.append(("count service:http", lambda: store.count("service:http"), int, None, Q,
                 None))
    plan.append(("facets port,product,service (all)",
                 lambda: store.facets("", ["port", "product", "service"]),
                 lambda r: sum(len(v) for v in r.values()), "", F, TODAY_MS["facets"]))
    plan.append(("facets product (service:ssh)",
                 lambda: store.facets("service:ssh", ["product"]),
                 lambda r: sum(len(v) for v in r.values()), "service:ssh", F, None))
    plan.append((f"page 50 by offset 4900 ({PAGE_QUERY})",
                 lambda: store.search(PAGE_QUERY, limit=100, offset=4900), len, PAGE_QUERY, Q,
                 TODAY_MS["page50"]))

    # search-after: walk 49 pages for the cursor of the 50th, then time the 50th
    t = time.perf_counter()
    page = store.page(PAGE_QUERY, limit=100)
    pages = 1
    while pages < 49 and page.next is not None:
        page = store.page(PAGE_QUERY, limit=100, after=page.next)
        pages += 1
    walk_ms = (time.perf_counter() - t) * 1000
    after = page.next
    plan.append((f"page 50 by cursor ({PAGE_QUERY})",
                 lambda: store.page(PAGE_QUERY, limit=100, after=after).records, len,
                 PAGE_QUERY, Q, TODAY_MS["page50"]))
    walk_note = (f"cursor walk: pages 1-{pages} took {walk_ms:,.0f} ms in all"
                 + ("" if after else " (no page 50: the query has fewer rows)"))

    out = []
    for label, call, returned, count_q, goal, today in plan:
        log(f"  timing {label} ...")
        p50, p95, result = timed(call, repeat)
        if count_q is not None:
            matches: int | None = store.count(count_q)
        elif label.startswith("count"):
            matches = int(result)
        else:
            matches = len(result)
        out.append(Timing(label, p50, p95, returned(result), matches, goal, today))
    return out, walk_note


# -- one backend, in a child process ------------------------------------------------------------

def cpu_budget_us() -> float:
    """The CPU an observation may cost, over all processes, for GOAL_INGEST on this
    machine's cores: past it the goal cannot be met however the work is spread."""
    return (os.cpu_count() or 1) * 1e6 / GOAL_INGEST


def cpu_bound_rate(cpu_us: float) -> float:
    return (os.cpu_count() or 1) * 1e6 / max(cpu_us, 1e-9)


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISS"


def report(kind: str, target: str, history: History, ingest: Ingest | None,
           earlier: dict[str, Any] | None, ref: Reference | None, timings: list[Timing],
           walk_note: str, repeat: int, compacted: list[Compacted]) -> str:
    lines = [f"== {kind}: {history.n:,} observations ({history.endpoints:,} endpoints on "
             f"{history.hosts:,} hosts, {history.certs:,} certificates), {target} =="]
    if ingest is not None:
        lines.append(f"fill took {ingest.seconds:,.1f} s")
    elif earlier:
        lines.append(f"store reused: filled earlier in {earlier['seconds']:,.1f} s "
                     f"({earlier['rate']:,.0f} obs/s, {earlier['bytes_per_obs']:,.0f} B/obs, "
                     f"peak RSS {earlier['rss_mb']:,.0f} MB); ingest not measured again")
    lines.append("")
    head = f"{'ingest':<44} {'store':>12} {'reference':>12} {'goal':>10} {'today':>8}"
    lines.append(head)
    if ingest is not None:
        ref_rate = f"{ref.rate:,.0f}" if ref else "—"
        ref_bytes = f"{ref.disk / ref.rows:,.0f}" if ref and ref.rows else "—"
        bpo = ingest.disk / ingest.rows
        lines += [
            f"{'  observations/s (add_many + flush)':<44} {ingest.rate:>12,.0f} {ref_rate:>12}"
            f" {'>= ' + format(GOAL_INGEST, ','):>10} {TODAY_INGEST:>8,}"
            f"  {_mark(ingest.rate >= GOAL_INGEST)}",
            f"{'  bytes on disk / observation':<44} {bpo:>12,.0f} {ref_bytes:>12}"
            f" {'<= ' + str(GOAL_BYTES):>10} {TODAY_BYTES:>8,}  {_mark(bpo <= GOAL_BYTES)}",
        ]
        if ingest.wal is not None:
            ref_wal = f"{ref.wal / ref.rows:,.0f}" if ref and ref.rows and ref.wal is not None \
                else "—"
            lines.append(f"{'    of which the -wal file':<44} {ingest.wal / ingest.rows:>12,.0f}"
                         f" {ref_wal:>12}")
        lines += [
            f"{'  store-side obs/s (wall minus generator)':<44} {ingest.store_rate:>12,.0f}",
            f"{'  CPU us / observation, all processes':<44} {ingest.store_cpu_us:>12,.0f}"
            f" {'':>12} {'<= ' + format(cpu_budget_us(), ',.0f'):>10}"
            f"  {_mark(ingest.store_cpu_us <= cpu_budget_us())}"
            f"  (the goal's rate on {os.cpu_count()} cores; at this CPU cost these cores"
            f" top out at {cpu_bound_rate(ingest.store_cpu_us):,.0f} obs/s)",
            f"{'    of which, us / observation':<44} {ingest.cpu_split()}"
            " (bench = the caller's thread and the store's writer, generator excluded)",
            f"{'  disk: store / empty store, MB':<44}"
            f" {ingest.disk / 1e6:>12,.1f} {ingest.empty_disk / 1e6:>12,.1f}",
            f"{'  peak RSS of the process, MB':<44} {ingest.rss_mb:>12,.0f}",
            f"{'  peak RSS of its encoder processes, MB':<44} {ingest.workers_mb:>12,.0f}",
        ]
        if ref:
            lines.append(f"  reference: {ref.what}, {ref.rows:,} rows of (ip, port, ts, record"
                         f" JSON), {REF_CHUNK:,} a transaction, {ref.seconds:,.1f} s writing"
                         " (Python encoding not timed)")
        lines.append(f"  generator time inside the fill: {ingest.generating:,.1f} s")
    else:
        lines.append("  (not measured: store reused)")
    lines.append("")
    lines.append(f"queries through the Store interface, ms over {repeat} runs after a warm-up;"
                 " returned = rows / count / facet values, matches = count(query)")
    lines += _query_table(timings)
    lines.append(f"  {walk_note}")
    for c in compacted:
        lines += ["", f"after `{c.command}` ({c.seconds:,.1f} s): bytes on disk /"
                  f" observation {c.before / history.n:,.0f} -> {c.after / history.n:,.0f}"
                  f" ({c.before / 1e6:,.1f} -> {c.after / 1e6:,.1f} MB); the queries again:"]
        lines += _query_table(c.timings)
    return "\n".join(lines)


def _query_table(timings: list[Timing]) -> list[str]:
    lines = [f"{'query':<44} {'p50':>8} {'p95':>8} {'returned':>9} {'matches':>11}"
             f" {'goal p95':>9} {'today':>7}"]
    for t in timings:
        matches = f"{t.matches:,}" if t.matches is not None else "—"
        today = f"{t.today:,.0f}" if t.today is not None else ""
        goal = f"< {t.goal:,.0f}" if t.goal is not None else ""
        mark = _mark(t.p95 < t.goal) if t.goal is not None else ""
        lines.append(f"{t.label:<44} {t.p50:>8.1f} {t.p95:>8.1f} {t.results:>9,} "
                     f"{matches:>11} {goal:>9} {today:>7}  {mark}")
    return lines


@dataclass
class Compacted:
    command: str  # `store compact` or `store compact --full`
    before: int  # disk bytes
    after: int
    seconds: float
    timings: list[Timing]  # the query mix after it


def compact(store: Store, history: History, repeat: int, kind: str,
            full: bool) -> Compacted:
    command = "store compact --full" if full else "store compact"
    log(f"[{kind}] {command}")
    before = store.disk_bytes()
    started = time.perf_counter()
    store.compact(full=full)
    seconds = time.perf_counter() - started
    after = store.disk_bytes()
    log(f"[{kind}] compacted in {seconds:,.1f} s; timing queries again")
    timings, _ = time_queries(store, history, repeat)
    return Compacted(command, before, after, seconds, timings)


def run_backend(kind: str, target: str, rows: int, seed: int, repeat: int,
                ref_rows: int, compact_after: bool = False, full: bool = False) -> None:
    history = History(rows, seed)
    log(f"[{kind}] opening {target}")
    store = open_store(target)
    ingest: Ingest | None = None
    ref: Reference | None = None
    earlier: dict[str, Any] | None = None
    try:
        stamp = store.meta_get(META_KEY)
        if stamp is not None:
            earlier = json.loads(stamp)
            if (earlier.get("rows"), earlier.get("seed")) != (rows, seed):
                raise SystemExit(f"{target} holds a bench store of {earlier.get('rows'):,} "
                                 f"rows (seed {earlier.get('seed')}): give --rows "
                                 f"{earlier.get('rows')} --seed {earlier.get('seed')}, or "
                                 "another store")
            log(f"[{kind}] reusing the filled store")
        else:
            if store.search("", limit=1):
                raise SystemExit(f"{target} already holds observations not filled by this "
                                 "script: give an empty store")
            log(f"[{kind}] filling {rows:,} observations")
            ingest = fill(store, history)
            if kind == "sqlite":  # the file layout is SQLite's, not the interface's
                ingest.wal = _size(f"{target}-wal")
            log(f"[{kind}] filled in {ingest.seconds:,.1f} s ({ingest.rate:,.0f} obs/s)")
            store.meta_set(META_KEY, json.dumps({
                "rows": rows, "seed": seed, "seconds": ingest.seconds, "rate": ingest.rate,
                "bytes_per_obs": ingest.disk / rows, "rss_mb": ingest.rss_mb}))
            store.flush()
            if ref_rows:
                log(f"[{kind}] physical reference: {ref_rows:,} rows")
                ref_history = History(ref_rows, seed)
                if kind == "sqlite":
                    ref = sqlite_reference(Path(f"{target}.reference"), ref_history)
                else:
                    ref = postgres_reference(target, ref_history)
                log(f"[{kind}] reference: {ref.rate:,.0f} rows/s")
        log(f"[{kind}] timing queries ({repeat} runs each)")
        timings, walk_note = time_queries(store, history, repeat)
        # the default compact (searches go on), then --full (a locked rewrite) after it
        compacted = [compact(store, history, repeat, kind, full=f)
                     for f in ((False, True) if full else (False,))] if compact_after else []
    finally:
        store.close()
    print(report(kind, store.url, history, ingest, earlier, ref, timings, walk_note, repeat,
                 compacted), flush=True)
    print(flush=True)


# -- the parent: header, temp stores, one child per backend ---------------------------------------

def start_postgres() -> Any:
    from netatlas.lab.pgserver import TempPostgres

    pg = TempPostgres()
    pg.start()
    return pg


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000,
                    help="observations, history included (default 10,000,000)")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgres")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per query")
    ap.add_argument("--seed", type=int, default=1, help="generator seed")
    ap.add_argument("--ref-rows", type=int, default=None,
                    help="rows for the physical reference (default: --rows; 0: skip it)")
    ap.add_argument("--db", default=None, help="SQLite store: filled, or reused if this "
                    "script filled it before; never removed")
    ap.add_argument("--pg-url", default=None, help="PostgreSQL store URL instead of a "
                    "TempPostgres: filled, or reused if filled before")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp SQLite store and leave the TempPostgres running")
    ap.add_argument("--compact", action="store_true",
                    help="then `store compact`: its time, the bytes it gave back, the "
                    "queries again")
    ap.add_argument("--full", action="store_true",
                    help="with --compact: then `store compact --full` too (tables rewritten "
                    "under a lock, space returned to the OS)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--target", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    ref_rows = args.rows if args.ref_rows is None else args.ref_rows

    if args.child == "generator":
        gen_rate, row_rate, sample = generator_rates(args.rows, args.seed)
        print(f"generator alone: {gen_rate:,.0f} obs/s; the row encoding add() does in the "
              f"caller's thread (rows.to_row) alone: {row_rate:,.0f} obs/s ({sample:,} "
              "sample)", flush=True)
        return
    if args.child:  # one backend, in a process of its own
        global SERVER_PID
        SERVER_PID = args.server_pid
        run_backend(args.child, args.target, args.rows, args.seed, args.repeat, ref_rows,
                    args.compact, args.full)
        return

    child = [sys.executable, __file__, "--child"]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        ap.error(f"unknown backend(s) {', '.join(sorted(unknown))}; choose from sqlite,postgres")

    history = History(args.rows, args.seed)
    print(f"store_scale: {args.rows:,} observations (history included) on "
          f"{history.endpoints:,} endpoints, {history.hosts:,} hosts, {history.certs:,} TLS "
          f"certificates, seed {args.seed}; {args.repeat} timed runs per query", flush=True)
    # Every measurement runs in a child: a child's ru_maxrss starts from its parent's peak
    # (exec keeps the old one), so this process stays small.
    log(f"measuring the generator alone (seed {args.seed}) ...")
    subprocess.run([*child, "generator", "--rows", str(args.rows), "--seed", str(args.seed)],
                   check=False)
    print(f"goals: ingest >= {GOAL_INGEST:,} obs/s · query p95 < {GOAL_QUERY_MS:.0f} ms · "
          f"facets p95 < {GOAL_FACETS_MS:.0f} ms · <= {GOAL_BYTES} B/obs on disk")
    print(f"today's figures (the issue; before this work, 200k rows, api_search mix): "
          f"{TODAY_LINE}")
    print(flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="netatlas-scale-"))
    failed = []
    try:
        for kind in backends:
            pg = None
            if kind == "sqlite":
                target = args.db or str(tmp / f"scale-{args.rows}.db")
            elif args.pg_url:
                target = args.pg_url
            else:
                log("[postgres] starting a TempPostgres ...")
                try:
                    pg = start_postgres()
                except Exception as exc:
                    print(f"== postgres: could not start a TempPostgres: {exc}\n", flush=True)
                    failed.append(kind)
                    continue
                target = pg.url
            cmd = [*child, kind, "--target", target,
                   "--rows", str(args.rows), "--seed", str(args.seed),
                   "--repeat", str(args.repeat), "--ref-rows", str(ref_rows),
                   *(["--compact"] if args.compact else []),
                   *(["--full"] if args.full else []),
                   *(["--server-pid", str(pg.pid)] if pg is not None and pg.pid else [])]
            started = time.perf_counter()
            try:
                code = subprocess.run(cmd, check=False).returncode
            finally:
                if pg is not None:
                    if args.keep:
                        print(f"   (kept) PostgreSQL at {pg.url}, postmaster PID {pg.pid}, "
                              f"data in {pg.root}: reuse with --pg-url {pg.url}; stop with "
                              f"kill -INT {pg.pid}, then remove {pg.root}", flush=True)
                    else:
                        pg.stop()
            if code != 0:
                print(f"== {kind}: failed (exit {code}) after "
                      f"{time.perf_counter() - started:,.0f} s; see stderr\n", flush=True)
                failed.append(kind)
            elif kind == "sqlite" and not args.db and args.keep:
                print(f"   (kept) SQLite store {target}: reuse with --db {target}\n",
                      flush=True)
    finally:
        if not args.keep or not any(tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
