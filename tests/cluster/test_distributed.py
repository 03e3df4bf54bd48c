"""A scan on three real Celery workers (redis-server broker, PostgreSQL store) stores
exactly the records of the single-process scan of the same scope — also when a worker
process is SIGKILLed in the middle of a shard — holds the global rate, and a worker
refuses a task outside its own allow list."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from netatlas.cluster.ratelimit import default_burst, granted_per_second
from netatlas.lab.pgserver import _children
from netatlas.lab.process import PidRecord, alive, stop
from netatlas.store import open_store
from netatlas.store.shards import shard_tables

NETATLAS = [sys.executable, "-m", "netatlas.cli.main"]
HOSTS = [f"127.21.3.{i}" for i in range(1, 5)]
PORTS = "9000-9249"  # 4 hosts x 250 ports = 1,000 endpoints
OPEN = [(h, p) for h in HOSTS for p in (9003, 9077, 9150, 9249)]
RATE = 120.0  # probes/s for the whole cluster: a shard lasts seconds, long enough to kill
DEADLINE = 120.0  # generous bound on waiting; nothing asserts on time


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*NETATLAS, *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"netatlas {' '.join(args)}: {proc.returncode}\n{proc.stderr}")
    return proc


def _records(db: str, query: str) -> set[tuple[Any, ...]]:
    out = _cli("export", query, "--db", db).stdout
    return {(r["ip_str"], r["port"], r["transport"], r["status"], r["data"])
            for r in map(json.loads, out.splitlines())}


def _wait(cond: Any, what: str) -> Any:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if (v := cond()):
            return v
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_sigkill_mid_shard_same_records_rate_held(cluster: dict[str, Any], listeners: Any,
                                                  tmp_path: Path) -> None:
    li = listeners(OPEN)
    db, broker = str(cluster["db"]), str(cluster["broker"])
    scope = ["127.21.3.0/29", "-p", PORTS, "--allow", "127.21.0.0/16",
             "--exclude-ports", "2024", "--no-grab", "--seed", "4242"]
    out = _cli("scan", *scope, "--rate", str(RATE), "--broker", broker, "--db", db,
               "--shards", "6", "--detach", "--json").stdout
    scan_id = json.loads(out)["scan_id"]
    store = open_store(db)
    try:
        tables = shard_tables(store)
        assert tables is not None
        # a shard that has made progress but not finished: SIGKILL the process running it
        victim = _wait(lambda: next((r for r in tables.of_scan(scan_id)
                                     if r.status == "running" and 0 < r.done < r.total),
                                    None), "a shard in progress")
        worker = next(p for p in cluster["processes"] if p.get("name") == victim.worker)
        pool = _children(worker["pid"])
        assert pool, "the worker's pool process"
        for child in pool:
            os.kill(child.pid, signal.SIGKILL)
        final = _wait(lambda: (s := store.get_scan(scan_id)) and s.status != "running"
                      and tables.rollup(scan_id) != "running" and store.get_scan(scan_id),
                      "the scan to end")
        rows = tables.of_scan(scan_id)
    finally:
        store.close()
    assert final.status == "finished", [r.to_dict() for r in rows]
    again = next(r for r in rows if r.shard == victim.shard)
    assert again.attempts >= 2 and again.status == "finished"
    assert final.done == final.total == sum(r.total for r in rows)

    cluster_peers = set(li.peers)  # before the single-process scan below connects too

    # the records equal a single-process scan's of the same scope
    single = str(tmp_path / "single.db")
    _cli("scan", *scope, "--db", single, "--json")
    distributed = _records(db, f"scan:{scan_id}")
    assert distributed == _records(single, "")
    assert {(ip, port) for ip, port, *_ in distributed} == set(OPEN)
    # ... with no record twice, history included
    store = open_store(db)
    try:
        history = [r for ip in HOSTS for r in store.host(ip) if r["scan_id"] == scan_id]
    finally:
        store.close()
    assert len(history) == len(OPEN)
    # each record names its worker and vantage; the probes really left from there
    assert {r.get("vantage") for r in history} <= {"127.21.0.1", "127.21.0.2", "127.21.0.3"}
    assert all(r.get("worker") for r in history)
    assert cluster_peers and cluster_peers <= {"127.21.0.1", "127.21.0.2", "127.21.0.3"}

    # the global rate: no second of Redis's clock granted more than rate + burst, and
    # every probe of the scan (1,000, plus the killed shard's replay) had a token
    client = redis.Redis.from_url(broker)
    try:
        granted = granted_per_second(client, scan_id, "probe")
    finally:
        client.close()
    assert max(granted.values()) <= RATE + default_burst(RATE)
    assert sum(granted.values()) >= 1000


def test_worker_refuses_a_task_outside_its_allow(cluster: dict[str, Any], listeners: Any
                                                 ) -> None:
    li = listeners([("127.22.1.1", 9001)])
    db, broker = str(cluster["db"]), str(cluster["broker"])
    # the scan's own allow list permits 127.22/16; the workers' (127.21/16) does not
    proc = _cli("scan", "127.22.1.0/30", "-p", "9000-9002", "--allow", "127.22.0.0/16",
                "--exclude-ports", "2024", "--no-grab", "--broker", broker, "--db", db,
                "--shards", "2", "--json", check=False)
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "failed" and summary["open"] == 0
    store = open_store(db)
    try:
        rows = shard_tables(store).of_scan(summary["scan_id"])  # type: ignore[union-attr]
    finally:
        store.close()
    assert [r.status for r in rows] == ["refused", "refused"]
    listed = [json.loads(line) for line in _cli("scans", "--db", db, "--json").stdout.splitlines()]
    shown = next(d for d in listed if d["id"] == summary["scan_id"])
    assert [(sh["shard"], sh["status"]) for sh in shown["shards"]] == [
        (0, "refused"), (1, "refused")]
    assert all("outside" in (r.error or "") or "refus" in (r.error or "") for r in rows)
    assert li.peers == []  # not one packet
    logs = "".join(Path(p["log"]).read_text() for p in cluster["processes"]
                   if p["role"] == "worker")
    assert "refused" in logs


async def test_api_scan_goes_to_the_workers(cluster: dict[str, Any], listeners: Any) -> None:
    import asyncio

    import httpx

    from netatlas.api import create_app

    li = listeners([("127.21.4.1", 9001), ("127.21.4.2", 9002)])
    db, broker = str(cluster["db"]), str(cluster["broker"])
    app = create_app(db, allow=["127.21.4.0/24"], broker=broker, rate=1000, burst=1000)
    ks = open_store(db)
    key = ks.create_key("scan", "cluster-test")[0]
    ks.close()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            c.headers["X-API-Key"] = key
            r = await c.post("/api/v1/scans", json={"targets": ["127.21.4.0/30"],
                                                    "ports": "9000-9003", "grab": True,
                                                    "banner_wait": 0.5})
            assert r.status_code == 202, r.text
            scan_id = r.json()["id"]
            end = time.monotonic() + DEADLINE
            while time.monotonic() < end:
                got = (await c.get(f"/api/v1/scans/{scan_id}")).json()
                if got["status"] != "running":
                    break
                await asyncio.sleep(0.2)
            assert got["status"] == "finished", got
            assert len(got["shards"]) == 8
            assert {sh["status"] for sh in got["shards"]} == {"finished"}
            found = (await c.get("/api/v1/search", params={"q": f"scan:{scan_id}"})).json()
    finally:
        await app.state.services.scans.shutdown()
        app.state.services.close()
    assert set(li.peers) <= {"127.21.0.1", "127.21.0.2", "127.21.0.3"}
    text = json.dumps(found)
    assert "netatlas-test ready" in text and '"vantage": "127.21.0.' in text


def test_cluster_down_stops_what_it_started(cluster: dict[str, Any]) -> None:
    # (runs last in this module: the fixture's own down() then finds nothing to stop)
    procs = list(cluster["processes"])
    records = [PidRecord(p["pid"], p["start"]) for p in procs]
    assert all(alive(r) for r in records)
    pools = [c for p in procs if p["role"] == "worker" for c in _children(p["pid"])]
    cluster["local"].down()
    assert not any(alive(r) for r in records + pools)
    for r in records + pools:  # belt and braces: never leave our processes behind
        stop(r)


def test_a_whole_worker_killed_its_shard_comes_back(pg_server: Any, listeners: Any,
                                                    tmp_path: Path) -> None:
    """The worker's main process and its pool both SIGKILLed (its host died): nobody
    rejects the task, so the broker hands it out again after the visibility timeout,
    and the shard resumes on the other worker."""
    import uuid

    from netatlas.cluster.local import LocalCluster

    li = listeners([(h, p) for h, p in OPEN])
    db = pg_server.create_database(f"whole_{uuid.uuid4().hex[:12]}")
    c = LocalCluster(tmp_path / "cluster")
    try:
        state = c.up(2, ["127.21.0.0/16"], db=db, lease_ttl=2.0, visibility_timeout=4.0,
                     source_net="127.21.254.0/24")
        scope = ["127.21.3.0/29", "-p", PORTS, "--allow", "127.21.0.0/16",
                 "--exclude-ports", "2024", "--no-grab", "--seed", "777"]
        out = _cli("scan", *scope, "--rate", str(RATE), "--broker", state["broker"],
                   "--db", db, "--shards", "4", "--detach", "--json").stdout
        scan_id = json.loads(out)["scan_id"]
        store = open_store(db)
        try:
            tables = shard_tables(store)
            assert tables is not None
            victim = _wait(lambda: next((r for r in tables.of_scan(scan_id)
                                         if r.status == "running" and 0 < r.done < r.total),
                                        None), "a shard in progress")
            worker = next(p for p in state["processes"] if p.get("name") == victim.worker)
            pool = _children(worker["pid"])
            os.kill(worker["pid"], signal.SIGKILL)
            for child in pool:
                os.kill(child.pid, signal.SIGKILL)
            final = _wait(lambda: tables.rollup(scan_id) != "running"
                          and store.get_scan(scan_id), "the scan to end")
            rows = tables.of_scan(scan_id)
        finally:
            store.close()
    finally:
        c.down()
    assert final.status == "finished", [r.to_dict() for r in rows]
    again = next(r for r in rows if r.shard == victim.shard)
    assert again.attempts >= 2 and again.worker != victim.worker
    assert _records(db, f"scan:{scan_id}") == {
        (ip, port, "tcp", "success", "") for ip, port in OPEN}
    del li
