"""``Store.compact`` (``netatlas store compact``): after rescans rewrote every latest
row, the store gives space back and answers exactly as before, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from netatlas.cli.main import cli
from netatlas.model import Observation, Scan
from netatlas.store import Store, open_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ENDPOINTS = 3_000


def _rescanned(store: Store, rescans: int = 3) -> None:
    store.begin_scan(Scan(id="s1", started=T0, args={"targets": ["127.20.0.0/16"]}))
    for week in range(rescans):  # each rescan in batches of its own: rows rewritten
        store.add_many(
            Observation(ip=f"127.20.{i // 250}.{i % 250 + 1}", port=(80, 443, 22)[i % 3],
                        transport="tcp", timestamp=T0 + timedelta(weeks=week, seconds=i),
                        scan_id="s1", service=("http", "https", "ssh")[i % 3],
                        product=("nginx", "Apache httpd", "OpenSSH")[i % 3],
                        version=f"1.{week}.{i % 9}", tags=["cloud"] if i % 2 else [],
                        data=f"banner {i} week {week}".encode(),
                        sections={"http": {"title": f"page {i % 40}"}})
            for i in range(ENDPOINTS))
        store.flush()


def _answers(store: Store) -> tuple[object, ...]:
    return (store.search("", limit=50), store.search("port:443 version:>1.1", limit=50),
            store.search("banner 17", limit=20), store.count(""), store.count("tag:cloud"),
            store.facets("", ["product", "port"]), store.host("127.20.0.18"),
            sorted(oid for oid, _ in store.export_all()))


def test_compact_gives_space_back_and_changes_no_answer(store: Store) -> None:
    _rescanned(store)
    before, size = _answers(store), store.disk_bytes()
    store.compact()
    assert store.disk_bytes() < size
    assert _answers(store) == before
    # and the store takes writes as before
    store.add(Observation(ip="127.20.99.1", port=80, transport="tcp",
                          timestamp=T0 + timedelta(weeks=9), scan_id="s1", service="http"))
    store.flush()
    assert store.count("") == ENDPOINTS + 1


def test_full_compact_on_postgres_and_leftovers_of_a_cut_reindex(store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: REINDEX CONCURRENTLY leftovers and VACUUM FULL")
    store = open_store(store_url)
    try:
        _rescanned(store, rescans=2)
        with psycopg.connect(store_url, autocommit=True) as conn:
            # what a REINDEX CONCURRENTLY cut short leaves: an invalid copy, still
            # updated by every write (here: a unique index that cannot be built)
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("CREATE UNIQUE INDEX CONCURRENTLY latest_port_ccnew"
                              " ON latest (port)")
            indexes = {r[0] for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'latest'")}
        before = _answers(store)
        store.compact()
        store.compact(full=True)
        assert _answers(store) == before
        with psycopg.connect(store_url, autocommit=True) as conn:
            after = {r[0] for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'latest'")}
            invalid = conn.execute("SELECT count(*) FROM pg_index i JOIN pg_class c"
                                   " ON c.oid = i.indrelid WHERE c.relname = 'latest'"
                                   " AND NOT i.indisvalid").fetchone()
        assert after == indexes - {"latest_port_ccnew"} and invalid == (0,)
    finally:
        store.close()


def test_the_command_says_what_it_gave_back(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = open_store(db)
    _rescanned(store, rescans=2)
    store.close()
    res = CliRunner().invoke(cli, ["store", "compact", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"{db}: " in res.output and "given back" in res.output
    missing = CliRunner().invoke(cli, ["store", "compact", "--db", str(tmp_path / "no.db")])
    assert missing.exit_code != 0 and not (tmp_path / "no.db").exists()
