"""What only the SQLite backend promises: its indexes serve the searches, banners are
stored once, and a store file made by netatlas 0.1 opens (migrated) under this one."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from netatlas.model import Observation
from netatlas.query import parse
from netatlas.query.ipbin import ip_to_bin
from netatlas.store import open_store
from netatlas.store.rows import blob_hash, unpack_blob
from netatlas.store.sqlite.compile import compile_where
from netatlas.store.sqlite.schema import LATEST, MIGRATIONS

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
V1_SCHEMA = Path(__file__).with_name("schema_v1.sql")


def _obs(ip: str, port: int, when: datetime, product: str, data: bytes = b"") -> Observation:
    return Observation(ip=ip, port=port, transport="tcp", timestamp=when, scan_id="s1",
                       service="http", product=product, version="1.22.1", data=data,
                       sections={"http": {"title": f"{product} page"}})


def test_searches_use_the_latest_indexes(tmp_path: Path) -> None:
    s = open_store(tmp_path / "t.db")
    s.add(_obs("127.20.0.2", 80, T0, "nginx"))
    s.close()
    db = sqlite3.connect(tmp_path / "t.db")
    plans = {
        "latest_port": "SELECT o.record FROM observations o WHERE o.is_latest = 1"
                       " AND o.port = 22 ORDER BY o.ts DESC, o.id DESC LIMIT 10",
        "latest_product": "SELECT o.product, count(*) FROM observations o"
                          " WHERE o.is_latest = 1 GROUP BY o.product COLLATE NOCASE",
        "latest_ts": "SELECT o.id FROM observations o WHERE o.is_latest = 1"
                     " AND (o.ts, o.id) < (1e10, 5) ORDER BY o.ts DESC, o.id DESC LIMIT 10",
    }
    for index, sql in plans.items():
        plan = " ".join(str(r) for r in db.execute("EXPLAIN QUERY PLAN " + sql))
        assert index in plan and "TEMP B-TREE" not in plan, plan
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT o.id FROM observations o WHERE o.is_latest = 1"
        " AND o.product = 'nginx' COLLATE NOCASE AND o.version_key > x'03'"))
    assert "latest_product" in plan, plan
    # tests of shared values (CVEs, findings, places) read the index of their hashes
    for query, index in (("has_vuln:true", "latest_ref_vulns"),
                         ("vuln:CVE-2021-44228", "latest_ref_vulns"),
                         ("cvss:>=9", "latest_ref_vulns"),
                         ("risk:redis-no-auth", "latest_ref_risks"),
                         ("country:CH", "latest_ref_location")):
        where = compile_where(parse(query))
        plan = " ".join(str(r) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM observations o WHERE o.is_latest = 1"
            f" AND {where.sql}", where.params))
        assert index in plan, (query, plan)
    db.close()


def test_banners_are_stored_once_and_compressed(tmp_path: Path) -> None:
    banner = b"HTTP/1.1 200 OK\r\nServer: nginx\r\n" + b"\x00\xff<x>" * 200
    s = open_store(tmp_path / "t.db")
    for i in range(50):
        s.add(_obs(f"127.20.0.{i + 1}", 80, T0, "nginx", banner))
    s.close()
    db = sqlite3.connect(tmp_path / "t.db")
    (stored,) = db.execute("SELECT data FROM blobs WHERE hash = ?",
                           (blob_hash(banner),)).fetchone()
    assert len(stored) < len(banner) // 4 and unpack_blob(stored) == banner
    assert db.execute("SELECT count(*) FROM blobs").fetchone() == (1,)
    # the record carries no second copy of the banner
    (record,) = db.execute("SELECT record FROM observations LIMIT 1").fetchone()
    assert "data" not in json.loads(record)
    db.close()


def _v1_file(path: Path) -> None:
    """A store as netatlas 0.1 wrote it (its schema file, its row shapes)."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA.read_text())
    rows = [_obs("127.20.0.2", 80, T0, "nginx", b"Server: nginx\r\n\xff"),
            _obs("127.20.0.2", 80, T0 + timedelta(days=1), "Apache httpd", b"Server: Apache"),
            _obs("127.20.0.3", 22, T0, "OpenSSH", b"SSH-2.0-OpenSSH_9.2p1")]
    # 0.1 kept CVEs and locations inline in the record (later versions name them by hash)
    rows[2].vulns = rows_vulns()
    rows[2].location = {"country_code": "CH", "city": "Zurich"}
    for i, o in enumerate(rows, 1):
        rec = o.to_record()
        db.execute("INSERT INTO observations (id, scan_id, ip, ip_bin, port, transport, ts,"
                   " status, service, product, version, title, data, record, is_latest)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (i, o.scan_id, o.ip, ip_to_bin(o.ip), o.port, o.transport,
                    o.timestamp.timestamp(), o.status, o.service, o.product, o.version,
                    rec["http"]["title"], o.data, json.dumps(rec), int(i != 1)))
        db.execute("INSERT INTO obs_fts (rowid, data, title, product) VALUES (?,?,?,?)",
                   (i, rec["data"], rec["http"]["title"], o.product))
    db.execute("INSERT INTO latest VALUES (?, 80, 'tcp', 2), (?, 22, 'tcp', 3)",
               (ip_to_bin("127.20.0.2"), ip_to_bin("127.20.0.3")))
    db.execute("INSERT INTO scans VALUES ('s1', 1, 2, 'finished', '{}', 5, 5, 2, 3)")
    db.commit()
    db.close()


def rows_vulns() -> dict[str, dict[str, object]]:
    return {"CVE-2023-38408": {"cvss": 9.8, "verified": False}}


def test_a_store_file_from_0_1_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_file(path)
    s = open_store(path)
    try:
        assert [m.split(":")[0] for m in s.migrate()] == [str(m[0]) for m in MIGRATIONS]
        assert s.schema_version() == LATEST
        # the facet totals were counted from the old records, and move with new ones
        assert s.facets("", ["product"])["product"] == s.facets("port:>0", ["product"])[
            "product"]
        assert [r["product"] for r in s.search("port:80")] == ["Apache httpd"]
        assert s.count("product:nginx") == 0 and s.count("openssh") == 1
        assert s.count("version:>1.20") == 2
        # inline shared values were given hashes: CVE and place queries find them
        for q in ("has_vuln:true", "vuln:CVE-2023-38408", "cvss:>9", "country:CH"):
            assert [r["port"] for r in s.search(q)] == [22], q
        assert s.count("has_vuln:false") == 1 and s.count("-cvss:>9") == 1
        assert s.host("127.20.0.3")[0]["vulns"] == rows_vulns()
        (ssh,) = s.search("port:22")
        assert ssh["data"] == "SSH-2.0-OpenSSH_9.2p1"
        assert [r["data"] for r in s.host("127.20.0.2")] == ["Server: Apache",
                                                             "Server: nginx\r\n\\xff"]
        assert s.get_scan("s1") is not None
        s.add(_obs("127.20.0.2", 80, T0 + timedelta(days=2), "lighttpd"))
        s.flush()
        assert [r["product"] for r in s.search("port:80")] == ["lighttpd"]
        assert "Apache httpd" not in {f.value for f in s.facets("", ["product"])["product"]}
    finally:
        s.close()
    s = open_store(path)  # a second open applies nothing
    assert s.migrate() == [] and s.schema_version() == LATEST
    s.close()


def test_facets_over_many_rows_are_sampled_and_say_so(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from netatlas.store.sqlite import store as sqlite_store

    s = open_store(tmp_path / "f.db")
    for i in range(400):
        s.add(_obs(f"127.20.{i // 200}.{i % 200 + 1}", 80 if i % 3 else 22, T0,
                   "nginx" if i % 3 else "OpenSSH"))
    s.flush()
    exact = s.facets("", ["port"])
    assert not exact.approximate and {(f.value, f.count) for f in exact["port"]} == {
        (80, 266), (22, 134)}
    monkeypatch.setattr(sqlite_store, "FACET_EXACT_MAX", 150)
    monkeypatch.setattr(sqlite_store, "FACET_SAMPLE_ROWS", 50)
    assert s.facets("", ["port"]) == exact and not s.facets("", ["port"]).approximate  # totals
    sampled = s.facets("port:>0", ["port"])  # every row, but a query: counted from rows
    assert sampled.approximate and sampled == s.facets("port:>0", ["port"])  # same sample
    counts = {f.value: f.count for f in sampled["port"]}
    assert set(counts) == {80, 22} and 200 <= counts[80] <= 330 and counts[80] % 8 == 0
    assert not s.facets("port:22", ["port"]).approximate  # 134 matches: exact
    s.close()


TEXT_QUERIES = ['"nginx"', "nginx", "openssh port:22", '-"nginx"', "nginx OR openssh",
                '"Welcome to"', "nginx -port:80", "nothing-matches-this", "ngi*"]


def test_frequent_phrases_are_checked_along_the_newest_rows_with_the_same_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netatlas.store.sqlite import store as sqlite_store

    s = open_store(tmp_path / "t.db")
    for i in range(60):
        s.add(_obs(f"127.20.1.{i + 1}", 80 if i % 2 else 22, T0 + timedelta(minutes=i),
                   "nginx" if i % 3 else "OpenSSH"))
    s.flush()
    seek = {q: ([r["ip_str"] for r in s.search(q)], s.count(q)) for q in TEXT_QUERIES}
    monkeypatch.setattr(sqlite_store, "FTS_FREQUENT", 1)  # every phrase is frequent
    assert "+o.id IN" in s._where('"nginx"')[0]
    check = {q: ([r["ip_str"] for r in s.search(q)], s.count(q)) for q in TEXT_QUERIES}
    assert check == seek and seek['"nginx"'][1] == 40
    s.close()


def test_a_scan_query_needs_no_index_of_every_row_by_scan(tmp_path: Path) -> None:
    """``scan:`` compares NOCASE, so a BINARY index by scan (obs_scan, dropped by
    migration 9) never served it; the query still finds the scan's latest rows."""
    s = open_store(tmp_path / "t.db")
    s.add(_obs("127.20.0.2", 80, T0, "nginx"))
    s.flush()
    assert s.count("scan:S1") == 1 and s.count("scan:s2") == 0
    s.close()
    db = sqlite3.connect(tmp_path / "t.db")
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert "obs_scan" not in names and "latest_ts" in names



def test_the_writer_queue_is_bounded_by_rows() -> None:
    """A bulk add queues its rows in chunks; the bound on what waits in memory counts
    the rows of a chunk, not the chunk as one."""
    from netatlas.store.sqlite.store import CHUNK_ROWS, _RowQueue

    q = _RowQueue(maxsize=2 * CHUNK_ROWS)
    q.put(["row"] * CHUNK_ROWS)  # type: ignore[list-item]
    q.put(lambda c: None)
    assert q.qsize() == CHUNK_ROWS + 1 and not q.full()
    q.put(["row"] * CHUNK_ROWS)  # type: ignore[list-item]
    assert q.full()
    assert len(q.get()) == CHUNK_ROWS  # type: ignore[arg-type]
    assert q.qsize() == CHUNK_ROWS + 1
