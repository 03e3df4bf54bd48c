"""SQLite's running facet totals (store/sqlite/totals.py) answer a facet over everything
exactly as counting the rows does — for every facet, through rescans that change a
value, late older observations, the same observation sent twice, and a reopen."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from netatlas.query import FACETS
from netatlas.store import Store, open_store
from netatlas.store.facetkeys import COUNTED, UNCOUNTED
from tests.query.conftest import DATASET, HISTORY, T, _with_extra
from tests.store.test_postgres_backend import EXTRA

# Counting rows: a query that matches every row but is not empty skips the totals.
EVERY_ROW = "port:>=0"


def _fill(s: Store) -> None:
    s.add(HISTORY)
    for obs, extra in DATASET.values():
        s.add(_with_extra(obs, extra))
    s.add_many(EXTRA)
    s.flush()


def _rescan(s: Store) -> None:
    """A week later: some values change, one product's spelling changes case, an older
    observation arrives late (it must not count), and one is sent twice."""
    later = T + timedelta(days=7)
    for label, (obs, extra) in list(DATASET.items())[:6]:
        changed = dataclasses.replace(
            _with_extra(obs, extra), timestamp=later,
            product=(obs.product or "x").upper() if label in "AB" else obs.product,
            version="9.9" if label == "C" else obs.version, tags=["rescanned"])
        s.add(changed)
        s.add(changed)
    s.add(dataclasses.replace(HISTORY, timestamp=T - timedelta(days=30), product="ancient"))
    s.flush()


def _same_as_rows(s: Store) -> None:
    for name in FACETS:
        totals = s.facets("", [name], 100)
        rows = s.facets(EVERY_ROW, [name], 100)
        assert not totals.approximate
        assert totals[name] == rows[name], name


@pytest.fixture
def lite(tmp_path: Path) -> Store:
    return open_store(tmp_path / "t.db")


def test_every_counted_facet_matches_counting_rows(lite: Store) -> None:
    assert set(COUNTED) | UNCOUNTED == set(FACETS)
    _fill(lite)
    _same_as_rows(lite)
    _rescan(lite)
    _same_as_rows(lite)
    assert "ancient" not in {f.value for f in lite.facets("", ["product"])["product"]}
    lite.close()


def test_totals_survive_a_reopen_and_are_recounted_when_stale(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    s = open_store(path)
    _fill(s)
    before = s.facets("", ["port", "product", "tag"], 100)
    s.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 'port' WHERE key = 'facet_totals_layout'")
    db.execute("DELETE FROM facet_totals")  # what an older version's totals would lack
    db.commit()
    db.close()
    s = open_store(path)
    assert s.facets("", ["port", "product", "tag"], 100) == before
    _rescan(s)
    _same_as_rows(s)
    s.close()


def test_a_store_with_facet_values_in_its_rows_is_migrated(tmp_path: Path) -> None:
    """A version-7 file kept each latest row's facet values in the row (positional
    JSON): migration 8 moves them aside, and counting down from them still works."""
    from netatlas.store.facetkeys import facet_values
    from netatlas.store.rows import publish
    from netatlas.store.sqlite.schema import doc_resolver

    path = tmp_path / "t.db"
    s = open_store(path)
    _fill(s)
    before = s.facets("", list(COUNTED), 100)
    s.close()
    db = sqlite3.connect(path)
    resolve = doc_resolver(db)
    for oid, record, *hot in db.execute(
            "SELECT id, record, ip, port, transport, ts, scan_id, status, service, product,"
            " version FROM observations WHERE is_latest = 1").fetchall():
        rec = publish(json.loads(record), tuple(hot), b"", resolve)
        db.execute("UPDATE observations SET facet_values = ? WHERE id = ?",
                   (facet_values(rec), oid))
    db.execute("DROP TABLE latest_facets")
    db.execute("DELETE FROM schema_migrations WHERE version >= 8")
    db.commit()
    db.close()
    s = open_store(path)
    assert any(m.startswith("8:") for m in s.migrate())
    assert s.facets("", list(COUNTED), 100) == before
    _rescan(s)
    _same_as_rows(s)
    s.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM observations WHERE facet_values IS NOT NULL"
                      ).fetchone() == (0,)
    db.close()
