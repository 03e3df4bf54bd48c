"""The API under load: a real load generator (wrk) holds N concurrent clients against a
real ``netatlas serve`` over a store of N synthetic observations, for a duration, over a
mix of real queries; prints throughput, p50/p90/p99 latency, errors, and the server's
RSS at the start, the middle and the end of the run (is memory flat?).

    .venv/bin/python bench/api_load.py                                # 1M, 32 clients, 60 s
    .venv/bin/python bench/api_load.py --rows 200000 --clients 32 --duration 60
    .venv/bin/python bench/api_load.py --rows 1000000 --db /tmp/1m.db   # fill and keep it
    .venv/bin/python bench/api_load.py --db /tmp/1m.db --clients 64      # reuse it
    .venv/bin/python bench/api_load.py --db /tmp/1m.db --each 10   # then each query alone

- The store: ``History`` from bench/_synthetic.py (each endpoint seen 2-5 times in weekly
  rescans, TLS, risks, CVEs, tags, locations; addresses only in 127.64.0.0/10), filled as
  bench/store_scale.py fills it (``add_many`` then ``flush``). ``--db`` names a store to
  fill, or one filled before (by this script or bench/store_scale.py), which is reused;
  it is never removed. Without ``--db`` a temp store is filled and removed afterwards.
- The server: ``netatlas serve`` in a child process on a free port of 127.0.0.1 (never
  2024), one process as a user runs it, with ``--rate-limit 0`` by default (a key's
  20 requests/s would measure the limiter, not the server); a read key is made for the
  run and revoked afterwards. The server is stopped by its PID.
- The load: ``wrk`` (Debian package wrk, installed by scripts/install-system-deps.sh)
  with ``--clients`` connections on ``--threads`` threads for ``--duration`` seconds,
  each connection sending its next request when the last one is answered (a closed
  loop: latency is per request, throughput is what the server sustains). Its Lua script
  draws each request from the mix below by weight; host look-ups draw one of up to 200
  addresses that the store holds. ``--timeout`` (30 s) is wrk's: a slower answer counts
  as an error, not a latency.
- Before the load every query of the mix is sent once (the answer must be a 200; that
  warms the page cache too). Errors are wrk's: any answer >= 400 and every connect,
  read, write or timeout error. The server's stderr is kept and its tracebacks counted.
- Memory: the server's RSS every half second, and what it is made of (from /proc:
  anonymous pages, file-backed pages, PSS); start is after the warm-up, middle at half
  the duration, end the last sample under load, then after 3 s idle. A SQLite store is
  memory-mapped by every reader connection (one a server thread), and each mapping of
  the same file pages counts in RSS again: RSS can pass the machine's memory while the
  anonymous part, what the server really holds, stays small.
- CPU: the server's and wrk's CPU seconds over the run, and the whole machine's busy
  time, so what other processes took is shown (a shared machine changes every figure).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from _synthetic import History
from netatlas.store import open_store

HOST = "127.0.0.1"
FORBIDDEN_PORT = 2024
META_KEY = "bench.api_load"
SCALE_META_KEY = "bench.store_scale"  # a store bench/store_scale.py filled is reused too
NETATLAS = [sys.executable, "-m", "netatlas.cli.main"]
MAX_HOSTS = 200

# (label, path with {ip} for a host look-up, query parameters, weight)
MIX: list[tuple[str, str, dict[str, str], int]] = [
    ("search port:22", "/api/v1/search", {"q": "port:22", "limit": "20"}, 3),
    ("search product:nginx version:>1.20", "/api/v1/search",
     {"q": "product:nginx version:>1.20", "limit": "20"}, 2),
    ('search "Dashboard" (full text)', "/api/v1/search", {"q": '"Dashboard"', "limit": "20"}, 1),
    ("search http.title:Jenkins*", "/api/v1/search",
     {"q": "http.title:Jenkins*", "limit": "20"}, 1),
    ("search net:127.64.0.0/16 -port:80", "/api/v1/search",
     {"q": "net:127.64.0.0/16 -port:80", "limit": "20"}, 1),
    ("search has_vuln:true cvss:>=9", "/api/v1/search",
     {"q": "has_vuln:true cvss:>=9", "limit": "20"}, 1),
    ("count service:http", "/api/v1/count", {"q": "service:http"}, 2),
    ("count tag:eol-product", "/api/v1/count", {"q": "tag:eol-product"}, 1),
    ("facets product:10 (service:ssh)", "/api/v1/stats",
     {"q": "service:ssh", "facets": "product:10"}, 1),
    ("facets port,service,product (all)", "/api/v1/stats",
     {"q": "", "facets": "port,service,product"}, 1),
    ("host {ip} (with history)", "/api/v1/host/{ip}", {}, 4),
    ("shodan host {ip}", "/shodan/host/{ip}", {}, 3),
    ("shodan search port:443 + facets", "/shodan/host/search",
     {"query": "port:443", "facets": "product:5"}, 2),
    ("shodan search product:OpenSSH", "/shodan/host/search", {"query": "product:OpenSSH"}, 1),
    ("shodan count country:DE + facets", "/shodan/host/count",
     {"query": "country:DE", "facets": "org:5"}, 1),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def url_of(path: str, params: dict[str, str], ip: str = "") -> str:
    path = path.replace("{ip}", ip)
    return f"{path}?{urllib.parse.urlencode(params)}" if params else path


# -- the store ------------------------------------------------------------------------------

@dataclass
class Prepared:
    db: str
    rows: int
    filled_seconds: float | None  # None: reused
    disk_mb: float
    hosts: list[str]
    key: str = ""
    key_id: str = ""


def prepare_store(db: str, rows: int, seed: int) -> Prepared:
    store = open_store(db)
    filled: float | None = None
    try:
        stamp = store.meta_get(META_KEY) or store.meta_get(SCALE_META_KEY)
        if stamp is not None:
            earlier = json.loads(stamp)
            rows = int(earlier.get("rows", rows))
            log(f"reusing {db}: {rows:,} observations filled earlier")
        elif store.search("", limit=1):
            raise SystemExit(f"{db} holds observations this bench did not fill: give an empty "
                             "store, or one filled by bench/api_load.py or store_scale.py")
        else:
            history = History(rows, seed)
            log(f"filling {rows:,} observations into {db}")
            started = time.perf_counter()
            for scan in history.scans():
                store.begin_scan(scan)
            store.add_many(history)
            store.flush()
            filled = time.perf_counter() - started
            store.meta_set(META_KEY, json.dumps({"rows": rows, "seed": seed,
                                                 "seconds": filled}))
            store.flush()
            log(f"filled in {filled:,.1f} s ({rows / filled:,.0f} obs/s)")
        hosts: list[str] = []
        for q in ("port:22", "service:http", "port:443", "product:Redis", "port:21"):
            for record in store.search(q, limit=MAX_HOSTS // 4):
                if record["ip_str"] not in hosts:
                    hosts.append(record["ip_str"])
        secret, key = store.create_key("read", "bench/api_load.py")
        store.flush()
    finally:
        store.close()
    disk = sum(os.path.getsize(p) for p in (db, f"{db}-wal") if os.path.exists(p))
    return Prepared(db, rows, filled, disk / 1e6, hosts[:MAX_HOSTS], secret, key.id)


def revoke(db: str, key_id: str) -> None:
    store = open_store(db)
    try:
        store.revoke_key(key_id)
        store.flush()
    finally:
        store.close()


# -- the server -----------------------------------------------------------------------------

def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port != FORBIDDEN_PORT:
            return port


def start_server(db: str, port: int, rate_limit: float, stderr: Any,
                 max_queries: int = 0) -> subprocess.Popen[bytes]:
    admission = ["--max-queries", str(max_queries)] if max_queries else []
    proc = subprocess.Popen(
        [*NETATLAS, "serve", "--db", db, "--host", HOST, "--port", str(port),
         "--rate-limit", str(rate_limit), *admission],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise SystemExit("netatlas serve did not start; see its stderr") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # our own child, by its PID
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def warm_up(port: int, key: str, hosts: list[str]) -> list[tuple[str, float, int]]:
    """Each query of the mix once (hosts: the first): (label, ms, bytes); a non-200
    stops the bench — the mix must be real queries the server answers."""
    out = []
    for label, path, params, _ in MIX:
        target = url_of(path, params, hosts[0] if hosts else "")
        request = urllib.request.Request(f"http://{HOST}:{port}{target}",
                                         headers={"X-API-Key": key})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as resp:
            body = resp.read()
            if resp.status != 200:
                raise SystemExit(f"{label}: HTTP {resp.status}")
        out.append((label, (time.perf_counter() - started) * 1000, len(body)))
    return out


# -- the load -------------------------------------------------------------------------------

LUA = r"""
-- generated by bench/api_load.py: the query mix, drawn by weight
local kinds = %(kinds)s
local weights = %(weights)s
local ips = %(ips)s
local total = 0
for _, w in ipairs(weights) do total = total + w end
local prepared = {}
wrk.method = "GET"
wrk.headers["X-API-Key"] = "%(key)s"

local threads = {}
failures = {}  -- per thread: "status message" -> count

function setup(thread)
  thread_number = (thread_number or 0) + 1
  thread:set("id", thread_number)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(%(seed)d * 1000 + (id or 0))
  for k, path in ipairs(kinds) do
    prepared[k] = {}
    if string.find(path, "{ip}", 1, true) then
      for i, ip in ipairs(ips) do
        prepared[k][i] = wrk.format(nil, (string.gsub(path, "{ip}", ip)))
      end
    else
      prepared[k][1] = wrk.format(nil, path)
    end
  end
end

function request()
  local r = math.random() * total
  local k = 1
  while k < #weights and (weights[k] == 0 or r > weights[k]) do
    r = r - weights[k]
    k = k + 1
  end
  local list = prepared[k]
  return list[math.random(#list)]
end

function response(status, headers, body)
  if status >= 400 then
    local why = status .. " " .. string.sub(string.match(body or "", '"error":%%s*"([^"]*)')
                                            or "", 1, 80)
    failures[why] = (failures[why] or 0) + 1
  end
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for why, n in pairs(thread:get("failures") or {}) do
      all[why] = (all[why] or 0) + n
    end
  end
  for why, n in pairs(all) do
    io.write(string.format("API_LOAD_FAILURE %%d %%s\n", n, why))
  end
  local e = summary.errors
  io.write(string.format(
    'API_LOAD_JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%d, ' ..
    '"p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_list(items: list[str]) -> str:
    return "{" + ", ".join(json.dumps(s) for s in items) + "}"


def lua_script(key: str, hosts: list[str], seed: int, only: int | None = None) -> str:
    """The mix by weight, or (``only``) that one kind of query alone."""
    kinds = [url_of(path, params, "{ip}") for _, path, params, _ in MIX]
    weights = [str(w if only is None or i == only else 0) for i, (*_, w) in enumerate(MIX)]
    return LUA % {"kinds": _lua_list(kinds), "weights": "{" + ", ".join(weights) + "}",
                  "ips": _lua_list(hosts or ["127.64.0.1"]), "key": key, "seed": seed}


MEASURES = ("rss", "anon", "file", "pss")


@dataclass(frozen=True)
class Mem:
    """MB: RSS as ``ps`` shows it; of it, anonymous (the heap the server owns) and
    file-backed pages (SQLite maps the store file once per reader connection, and each
    mapping counts in RSS again); PSS, each shared page divided by its mappers."""

    rss: float
    anon: float
    file: float
    pss: float


def memory(pid: int) -> Mem:
    """The server's memory from /proc (Linux); only RSS where the rest is unreadable."""
    fields: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for name in ("status", "smaps_rollup"):
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    fields[f"{name}.{key}"] = int(value.split()[0]) / 1024
    rss = fields.get("status.VmRSS") or psutil.Process(pid).memory_info().rss / 2**20
    return Mem(rss, fields.get("status.RssAnon", 0.0), fields.get("status.RssFile", 0.0),
               fields.get("smaps_rollup.Pss", 0.0))


@dataclass
class Samples:
    mem: list[tuple[float, Mem]] = field(default_factory=list)  # (seconds into the run, Mem)

    def at(self, t: float) -> Mem:
        return min(self.mem, key=lambda s: abs(s[0] - t))[1]


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


@dataclass
class Run:
    wrk: dict[str, Any]
    samples: Samples
    start: Mem
    after: Mem
    threads: int
    failures: list[list[str]]  # [count, "status message"] of the answers >= 400
    seconds: float
    server_cpu: float
    wrk_cpu: float
    busy: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def run_load(wrk: str, port: int, server: psutil.Process, script: Path, clients: int,
             threads: int, duration: int, timeout: int, settle: float = 3.0) -> Run:
    load_before = os.getloadavg()
    start = memory(server.pid)
    samples = Samples()
    cpu0, busy0 = _cpu_seconds(server), _busy_seconds()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(
        [wrk, "-t", str(threads), "-c", str(clients), "-d", f"{duration}s",
         "--timeout", f"{timeout}s", "-s", str(script), f"http://{HOST}:{port}/"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout
                                                        else b""), daemon=True)
    reader.start()
    while proc.poll() is None:
        samples.mem.append((time.monotonic() - started, memory(server.pid)))
        time.sleep(0.5)
    seconds = time.monotonic() - started
    server_cpu, busy = _cpu_seconds(server) - cpu0, _busy_seconds() - busy0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children1.ru_utime + children1.ru_stime
               - children0.ru_utime - children0.ru_stime)
    load_after = os.getloadavg()
    reader.join(timeout=10)
    text = b"".join(out).decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("API_LOAD_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed (exit {proc.returncode}):\n{text}")
    failures = [ln.split(" ", 2)[1:] for ln in text.splitlines()
                if ln.startswith("API_LOAD_FAILURE ")]
    threads = server.num_threads()
    time.sleep(settle)
    if not samples.mem:
        samples.mem.append((seconds, memory(server.pid)))
    return Run(json.loads(line.split(" ", 1)[1]), samples, start, memory(server.pid), threads,
               failures, seconds, server_cpu, wrk_cpu, busy, load_before, load_after)


# -- the report -----------------------------------------------------------------------------

def report(prepared: Prepared, args: argparse.Namespace, warm: list[tuple[str, float, int]],
           run: Run, each: list[tuple[str, Run]], tracebacks: int, wrk_version: str) -> str:
    w = run.wrk
    seconds = w["duration_us"] / 1e6
    errors = w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"]
    middle = run.samples.at(args.duration / 2)
    end = run.samples.mem[-1][1]
    cores = psutil.cpu_count() or 1
    others = max(0.0, run.busy - run.server_cpu - run.wrk_cpu)
    fill = (f"filled in {prepared.filled_seconds:,.1f} s" if prepared.filled_seconds is not None
            else "reused")
    lines = [
        f"== api_load: {prepared.rows:,} observations ({prepared.disk_mb:,.0f} MB, {fill}), "
        f"netatlas serve (one process, --rate-limit {args.rate_limit:g}"
        f"{f', --max-queries {args.max_queries}' if args.max_queries else ''}), {wrk_version}: "
        f"{args.clients} connections on {args.threads} threads, {args.duration} s, "
        f"{len(MIX)} kinds of query, {len(prepared.hosts)} hosts ==",
        "",
        "warm-up, each query once (ms, bytes):",
    ]
    lines += [f"  {label:<40} {ms:>9.1f} {size:>10,}" for label, ms, size in warm]
    lines += [
        "",
        f"{'requests':<28} {w['requests']:>12,}",
        f"{'throughput':<28} {w['requests'] / seconds:>12,.1f} req/s",
        f"{'latency p50':<28} {w['p50_us'] / 1000:>12,.1f} ms",
        f"{'latency p90':<28} {w['p90_us'] / 1000:>12,.1f} ms",
        f"{'latency p99':<28} {w['p99_us'] / 1000:>12,.1f} ms",
        f"{'latency max':<28} {w['max_us'] / 1000:>12,.1f} ms",
        f"{'errors':<28} {errors:>12,}   (HTTP >= 400: {w['status']}, connect {w['connect']},"
        f" read {w['read']}, write {w['write']}, timeout {w['timeout']})",
        *(f"  {int(n):>10,} x {why}" for n, why in run.failures),
        f"{'server tracebacks (stderr)':<28} {tracebacks:>12,}",
        f"{'server threads at the end':<28} {run.threads:>12,}",
        "",
        f"server memory, MB {'start':>8} {'middle':>8} {'end':>8} {'peak':>8} "
        f"{'3 s after':>10} {'middle -> end':>14}",
    ]
    for name, label in zip(MEASURES, ("RSS", "  anonymous", "  file-backed", "PSS"),
                           strict=True):
        def mb(m: Mem, name: str = name) -> float:
            return float(getattr(m, name))
        peak = max(mb(m) for _, m in run.samples.mem)
        lines.append(f"{label:<17} {mb(run.start):>8,.0f} {mb(middle):>8,.0f} {mb(end):>8,.0f}"
                     f" {peak:>8,.0f} {mb(run.after):>10,.0f} {mb(end) - mb(middle):>+14,.1f}")
    tenths = [run.samples.at(args.duration * i / 10) for i in range(11)]
    lines += [
        "RSS every tenth of the run:       " + " ".join(f"{m.rss:,.0f}" for m in tenths),
        "anonymous every tenth of the run: " + " ".join(f"{m.anon:,.0f}" for m in tenths),
        "",
        f"{'CPU over the run, cores':<28} server {run.server_cpu / run.seconds:.2f} · wrk "
        f"{run.wrk_cpu / run.seconds:.2f} · everything else {others / run.seconds:.2f} "
        f"(of {cores})",
        f"{'load average':<28} before {run.load_before[0]:.2f} · after "
        f"{run.load_after[0]:.2f}",
    ]
    if each:
        lines += ["", f"each kind of query alone, {args.clients} connections, {args.each} s each:",
                  f"  {'query':<40} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}"
                  f" {'server cores':>13}"]
        for label, r in each:
            e = r.wrk
            errs = e["connect"] + e["read"] + e["write"] + e["status"] + e["timeout"]
            lines.append(f"  {label:<40} {e['requests'] / (e['duration_us'] / 1e6):>8,.1f}"
                         f" {e['p50_us'] / 1000:>9,.1f} {e['p99_us'] / 1000:>9,.1f}"
                         f" {errs:>7,} {r.server_cpu / r.seconds:>13.2f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="observations to fill")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", default=None, help="store to fill and keep, or to reuse")
    ap.add_argument("--clients", type=int, default=32, help="concurrent connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--duration", type=int, default=60, help="seconds of load")
    ap.add_argument("--timeout", type=int, default=30, help="wrk's per-request timeout, s")
    ap.add_argument("--rate-limit", type=float, default=0.0,
                    help="the server's per-key requests/s (0 = unlimited)")
    ap.add_argument("--max-queries", type=int, default=0,
                    help="the server's --max-queries (0 = its default)")
    ap.add_argument("--each", type=int, default=0, metavar="SECONDS",
                    help="then each kind of query alone for SECONDS (0 = not)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    if args.clients < args.threads:
        ap.error("--clients must be at least --threads (wrk needs a connection a thread)")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: install it (bash scripts/install-system-deps.sh)")
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True
                                 ).stdout.split(" [")[0].strip() or "wrk"

    tmp = Path(tempfile.mkdtemp(prefix="netatlas-api-load-"))
    db = args.db or str(tmp / "load.db")
    prepared = prepare_store(db, args.rows, args.seed)
    port = free_port()
    stderr_path = tmp / "serve.stderr"
    server: subprocess.Popen[bytes] | None = None
    try:
        with open(stderr_path, "wb") as stderr:
            server = start_server(db, port, args.rate_limit, stderr, args.max_queries)
            log(f"netatlas serve pid {server.pid} on http://{HOST}:{port}/")
            warm = warm_up(port, prepared.key, prepared.hosts)
            script = tmp / "mix.lua"
            script.write_text(lua_script(prepared.key, prepared.hosts, args.seed))
            log(f"load: wrk -t {args.threads} -c {args.clients} -d {args.duration}s")
            run = run_load(wrk, port, psutil.Process(server.pid), script, args.clients,
                           args.threads, args.duration, args.timeout)
            each: list[tuple[str, Run]] = []
            for i, (label, *_) in enumerate(MIX if args.each else []):
                log(f"alone: {label}")
                script.write_text(lua_script(prepared.key, prepared.hosts, args.seed, only=i))
                each.append((label, run_load(wrk, port, psutil.Process(server.pid), script,
                                             args.clients, args.threads, args.each,
                                             args.timeout, settle=0.0)))
    finally:
        if server is not None:
            stop(server)
        revoke(db, prepared.key_id)
    server_log = stderr_path.read_text(errors="replace")
    tracebacks = server_log.count("Traceback")
    print(report(prepared, args, warm, run, each, tracebacks, wrk_version), flush=True)
    if tracebacks:
        first = server_log.index("Traceback")
        print("\nthe server's first traceback:\n" + server_log[first:first + 3000])
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rows": prepared.rows, "clients": args.clients, "threads": args.threads,
            "duration": args.duration, "wrk": run.wrk,
            "memory_mb": [(t, vars(m)) for t, m in run.samples.mem],
            "start_mb": vars(run.start), "after_mb": vars(run.after), "server_threads": run.threads,
            "server_cpu_s": run.server_cpu, "wrk_cpu_s": run.wrk_cpu, "busy_s": run.busy,
            "seconds": run.seconds, "tracebacks": tracebacks, "failures": run.failures,
            "each": {label: r.wrk for label, r in each}},
            indent=1))
    shutil.rmtree(tmp, ignore_errors=True)  # the temp store, the script, the server's log


if __name__ == "__main__":
    main()
