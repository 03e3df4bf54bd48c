"""SQLite: tests on a low-cardinality list (tags) read each distinct list once from an
index of the latest rows' lists, then seek the rows; the answers stay those of a test
of every row."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netatlas.model import Observation
from netatlas.query import parse
from netatlas.store import open_store
from netatlas.store.sqlite.compile import compile_where

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TAGS = (["eol-product"], ["EOL-Product", "cloud"], ["cloud"], [], ["vpn", "eol-product"],
        ["database"], ["honeypot", "Cloud"])


def _store(path: Path) -> None:
    s = open_store(path)
    for i in range(70):
        tags = TAGS[i % len(TAGS)]
        # an older observation of the same endpoint with other tags: not the latest
        for age, t in ((2, ["stale-tag"]), (0, tags)):
            s.add(Observation(ip=f"127.20.1.{i}", port=22 if i % 2 else 80, transport="tcp",
                              timestamp=T0 - timedelta(days=age), scan_id="s1",
                              service="ssh", tags=list(t)))
    s.close()


def test_tag_queries_seek_the_list_index_with_the_same_answers(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _store(path)
    s = open_store(path)
    db = sqlite3.connect(path)
    try:
        for query in ("tag:eol-product", "tag:cloud", "tags:EOL*", "tag:stale-tag",
                      "tag:nothing"):
            where = compile_where(parse(query))
            plan = " ".join(str(r) for r in db.execute(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM observations o"
                f" WHERE o.is_latest = 1 AND {where.sql}", where.params))
            assert "latest_list_tags" in plan and "SCAN o" not in plan, (query, plan)
        expected = {
            "tag:eol-product": 30, "tags:EOL*": 30, "tag:cloud": 30, "tag:stale-tag": 0,
            "tag:nothing": 0, "-tag:cloud": 40, "-tag:eol-product port:80": 20,
            "tag:vpn OR tag:database": 20, "tag:cloud,vpn": 40,
        }
        got = {q: s.count(q) for q in expected}
        assert got == expected
        # the rows found are the rows a row-by-row test finds
        every = s.search("", limit=1000)
        assert len(every) == 70
        for q in ("tag:eol-product", "-tag:cloud"):
            ids = {(r["ip_str"], r["port"]) for r in s.search(q, limit=1000)}
            want = {(r["ip_str"], r["port"]) for r in every
                    if any(t.lower() == q.lstrip("-")[4:] for t in r.get("tags") or [])
                    != q.startswith("-")}
            assert ids == want, q
    finally:
        db.close()
        s.close()
