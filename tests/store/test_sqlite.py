"""The SQLite store: history kept, `latest` moves only forward, hostile bytes round-trip,
committed records survive a killed process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from netatlas.model import Observation
from netatlas.store import open_store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def obs(ip: str, port: int, when: datetime, product: str | None = None,
        data: bytes = b"", scan: str = "s1", **sections: dict) -> Observation:
    return Observation(ip=ip, port=port, transport="tcp", timestamp=when, scan_id=scan,
                       service="http", product=product, data=data, sections=dict(sections))


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "t.db")
    yield s
    s.close()


def test_history_and_latest(store) -> None:
    store.add(obs("127.20.0.2", 80, T0, "nginx"))
    store.add(obs("127.20.0.2", 80, T0 + timedelta(days=1), "Apache httpd"))
    # an older observation arriving late must not replace the newer one in `latest`
    store.add(obs("127.20.0.2", 80, T0 - timedelta(days=1), "lighttpd"))
    store.flush()
    assert [r["product"] for r in store.search("")] == ["Apache httpd"]
    assert store.count("product:nginx") == 0
    history = store.host("127.20.0.2")
    assert [r["product"] for r in history] == ["Apache httpd", "nginx", "lighttpd"]
    assert [r["product"] for r in store.host("127.20.0.2", history=False)] == ["Apache httpd"]


def test_hostile_bytes_round_trip(store, tmp_path: Path) -> None:
    raw = b"\x00\xff<script>alert(1)</script>\r\n\xc3\x28 ok \xe2\x82\xac"
    store.add(obs("127.20.0.9", 9999, T0, data=raw))
    store.flush()
    rec = store.search("ip:127.20.0.9")[0]
    assert "\\x00" in rec["data"] and "\\xff" in rec["data"] and "€" in rec["data"]
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("SELECT data FROM observations").fetchone()[0] == raw


def test_full_text_and_facets(store) -> None:
    store.add(obs("127.20.0.2", 80, T0, "nginx", b"HTTP/1.1 200 OK\r\nServer: nginx\r\n",
                  http={"title": "Welcome to nginx!", "status": 200}))
    store.add(obs("127.20.0.3", 8080, T0, "Jetty", b"HTTP/1.1 404\r\n",
                  http={"title": "Not here", "status": 404}))
    store.flush()
    assert {r["ip_str"] for r in store.search('"welcome"')} == {"127.20.0.2"}
    assert {r["ip_str"] for r in store.search("-nginx")} == {"127.20.0.3"}
    facets = store.facets("", ["port", "product"])
    assert {(f.value, f.count) for f in facets["port"]} == {(80, 1), (8080, 1)}


def test_committed_records_survive_a_kill(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    code = textwrap.dedent(f"""
        import os, sys, time
        from datetime import UTC, datetime
        from netatlas.model import Observation
        from netatlas.store import open_store
        s = open_store({str(db)!r})
        for i in range(500):
            s.add(Observation(ip="127.20.1.1", port=i + 1, transport="tcp",
                              timestamp=datetime.now(UTC), scan_id="k"))
        s.flush()
        print("flushed", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "flushed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    s = open_store(db)
    try:
        assert s.count("") == 500
    finally:
        s.close()


def test_exactly_one_latest_row_per_endpoint(store, tmp_path: Path) -> None:
    for day in (0, 2, 1, 3, -1):  # out of order on purpose
        store.add(obs("127.20.0.2", 80, T0 + timedelta(days=day), f"p{day}"))
    store.add(obs("127.20.0.3", 80, T0, "nginx"))
    store.flush()
    db = sqlite3.connect(tmp_path / "t.db")
    rows = db.execute("SELECT ip, product FROM observations WHERE is_latest = 1"
                      " ORDER BY ip").fetchall()
    assert rows == [("127.20.0.2", "p3"), ("127.20.0.3", "nginx")]
    # the flag mirrors the `latest` table row for row
    assert db.execute("SELECT count(*) FROM latest l JOIN observations o ON o.id = l.obs_id"
                      " WHERE o.is_latest = 1").fetchone() == (2,)
    db.close()


def test_searches_use_the_latest_indexes(store, tmp_path: Path) -> None:
    store.add(obs("127.20.0.2", 80, T0, "nginx"))
    store.flush()
    db = sqlite3.connect(tmp_path / "t.db")
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT o.record FROM observations o WHERE o.is_latest = 1"
        " AND o.port = 22 ORDER BY o.ts DESC, o.id DESC LIMIT 10"))
    assert "latest_port" in plan and "TEMP B-TREE" not in plan, plan
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT o.product, count(*) FROM observations o"
        " WHERE o.is_latest = 1 GROUP BY o.product COLLATE NOCASE"))
    assert "latest_product" in plan, plan
    db.close()


def test_a_store_file_from_before_is_latest_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    s = open_store(path)
    s.add(obs("127.20.0.2", 80, T0, "nginx"))
    s.add(obs("127.20.0.2", 80, T0 + timedelta(days=1), "Apache httpd"))
    s.flush()
    s.close()
    # make it look like a file written before the column existed
    db = sqlite3.connect(path)
    for name in ("latest_ts", "latest_port", "latest_service", "latest_product", "latest_ip"):
        db.execute(f"DROP INDEX {name}")
    db.execute("ALTER TABLE observations DROP COLUMN is_latest")
    db.commit()
    db.close()
    s = open_store(path)
    try:
        assert [r["product"] for r in s.search("")] == ["Apache httpd"]
        assert s.count("product:nginx") == 0
    finally:
        s.close()
