"""A distributed scan on 1, 2 and 4 workers beside today's single process.

    python bench/distributed.py                          # 127.21.0.0/16 x ports 1-100
    python bench/distributed.py --targets 127.21.0.0/20  # a quicker run

Every run scans the same scope (port 2024 always excluded, discovery only: ``--no-grab``,
so what is measured is the engine, not the few services that answer). The single
process writes to a SQLite file; each cluster (``netatlas cluster up --workers N``,
workers on 127.21.255.x source addresses, a fresh redis-server, one throwaway
PostgreSQL for all runs) writes to PostgreSQL, and is stopped by PID afterwards. Wall
time is from the command's start to the scan's end (planning and queueing included);
RSS per worker is the peak (VmHWM) of each worker's pool process, which runs the shard.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from netatlas.cluster.local import LocalCluster
from netatlas.lab.pgserver import TempPostgres, _children

FORBIDDEN_PORT = "2024"
NETATLAS = [sys.executable, "-m", "netatlas.cli.main"]


def _scope(targets: str, ports: str, seed: int) -> list[str]:
    net = ipaddress.ip_network(targets)
    if not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):  # type: ignore[arg-type]
        raise SystemExit("targets must be loopback")
    return [targets, "-p", ports, "--exclude-ports", FORBIDDEN_PORT, "--allow", targets,
            "--no-grab", "--seed", str(seed), "--json"]


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def single(scope: list[str], work: Path) -> dict[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([*NETATLAS, "scan", *scope, "--db", str(work / "single.db")],
                          capture_output=True, text=True, check=True)
    wall = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out = json.loads(proc.stdout)
    return {"wall": wall, "endpoints": out["endpoints"], "open": out["open"], "rss": rss}


def distributed(scope: list[str], workers: int, pg: TempPostgres, work: Path,
                shards: int) -> dict[str, float]:
    db = pg.create_database(f"bench_{uuid.uuid4().hex[:10]}")
    cluster = LocalCluster(work / f"cluster-{workers}")
    try:
        state = cluster.up(workers, [scope[0], "127.21.255.0/24"], db=db,
                           source_net="127.21.255.0/24")
        t0 = time.monotonic()
        proc = subprocess.run([*NETATLAS, "scan", *scope, "--broker", state["broker"],
                               "--db", db, "--shards", str(shards)],
                              capture_output=True, text=True, check=True)
        wall = time.monotonic() - t0
        pools = [c.pid for p in state["processes"] if p["role"] == "worker"
                 for c in _children(p["pid"])]
        rss = [_hwm_kib(pid) / 1024 for pid in pools]
        out = json.loads(proc.stdout)
    finally:
        cluster.down()
    return {"wall": wall, "endpoints": out["endpoints"], "open": out["open"],
            "rss": max(rss) if rss else 0.0, "status": out["status"]}  # type: ignore[dict-item]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="127.21.0.0/16")
    ap.add_argument("--ports", default="1-100")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--seed", type=int, default=20261204)
    args = ap.parse_args()
    scope = _scope(args.targets, args.ports, args.seed)
    print(f"scope: {args.targets} x {args.ports} minus {FORBIDDEN_PORT}, discovery only; "
          f"{os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="netatlas-bench-dist-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the throwaway PostgreSQL runs as user postgres
        rows = [("single process", single(scope, work))]
        print(_line(*rows[-1]), flush=True)
        with TempPostgres(base_dir=work) as pg:
            for n in (int(x) for x in args.workers.split(",")):
                rows.append((f"{n} worker{'s' if n > 1 else ''}",
                             distributed(scope, n, pg, work, args.shards)))
                print(_line(*rows[-1]), flush=True)


def _line(name: str, r: dict[str, float]) -> str:
    rate = r["endpoints"] / r["wall"]
    return (f"{name:>15}: {r['wall']:7.1f} s  {rate:10,.0f} probes/s  open {r['open']:>4}  "
            f"peak RSS {'per worker ' if 'worker' in name else ''}{r['rss']:.0f} MiB"
            + (f"  ({r['status']})" if "status" in r else ""))


if __name__ == "__main__":
    main()
