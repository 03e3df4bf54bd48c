"""Counts and facets from running totals: on PostgreSQL the column totals
(store/postgres/totals.py) give a facet of a column over everything, and on both
backends a count that tests one column only reads the totals (facetkeys.counted_column)
— and each gives exactly what counting the rows gives, through rescans that change a
value or its case, late older observations, the same observation twice, NULL products,
and a store migrated from before the totals."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import psycopg
import pytest

from netatlas.model import Observation
from netatlas.query import parse
from netatlas.store import Store, open_store
from netatlas.store.facetkeys import counted_column
from tests.store.test_facet_totals import EVERY_ROW, _fill, _rescan

COLUMN_FACETS = ("port", "transport", "service", "product", "version", "status", "scan")
# every one reads one column only: answered from the totals
ON_TOTALS = (
    "service:http", "service:HTTP", "service:http,ssh,http", "product:nginx", "-product:nginx",
    "-service:http", "product:ngi*", "product:*", "port:22", "port:22,80,22", "port:[20 TO 100]",
    "port:>1000", "port:22 OR port:80", "-(port:22 OR port:443)", "port:>20 -port:80",
    "transport:udp", "status:success", "-status:success", "scan:*", "product:\"\"",
)
# another column, full text, or two columns: counted from the rows
ON_ROWS = ("", "service:http port:80", "nginx", "version:>1.0", "ip:127.0.0.0/8",
           "title:*", "service:http tag:rescanned")


def _same_as_rows(s: Store) -> None:
    for name in COLUMN_FACETS:
        summed = s.facets("", [name], 100)
        counted = s.facets(EVERY_ROW, [name], 100)
        assert not summed.approximate
        assert summed[name] == counted[name], name
    for q in ON_TOTALS + ON_ROWS:
        assert s.count(q) == sum(1 for _ in s.iter_search(q)), q


def test_which_queries_the_totals_answer() -> None:
    assert [q for q in ON_TOTALS if counted_column(parse(q)) is None] == []
    assert [q for q in ON_ROWS if counted_column(parse(q)) is not None] == []


def test_totals_count_and_facet_as_the_rows_do(store_url: str) -> None:
    s = open_store(store_url)
    _fill(s)
    _same_as_rows(s)
    _rescan(s)  # values and their case change, a late older one, one sent twice
    _same_as_rows(s)
    assert "ancient" not in {f.value for f in s.facets("", ["product"])["product"]}
    first = next(iter(s.iter_search("product:*")))
    seen = datetime.fromisoformat(first["timestamp"])
    # a rescan that finds no product (NULL) and another that finds it again
    gone = Observation(ip=first["ip_str"], port=first["port"], transport=first["transport"],
                       timestamp=seen + timedelta(days=30), scan_id="later", service="http")
    s.add(gone)
    s.flush()
    _same_as_rows(s)
    s.add(dataclasses.replace(gone, timestamp=seen + timedelta(days=31), product="Caddy"))
    s.flush()
    _same_as_rows(s)
    s.close()


def test_a_store_from_before_the_totals_is_counted_on_migration(pg_url: str) -> None:
    s = open_store(pg_url)
    _fill(s)
    before = {name: s.facets(EVERY_ROW, [name], 100)[name] for name in COLUMN_FACETS}
    s.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # what version 6 looked like
        conn.execute("DROP TABLE column_totals")
        # and without what came after (a few rows: no dictionary was trained)
        assert conn.execute("SELECT count(*) FROM zdicts").fetchone() == (0,)
        conn.execute("DROP TABLE zdicts")
        conn.execute("DROP SEQUENCE zdicts_id")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 7")
    s = open_store(pg_url)
    assert any(m.startswith("7:") for m in s.migrate() + s.applied)
    assert {name: s.facets("", [name], 100)[name] for name in COLUMN_FACETS} == before
    _rescan(s)
    _same_as_rows(s)
    s.close()


@pytest.mark.parametrize("bad", ["port:x", "service:"])
def test_a_bad_count_is_still_a_clear_error(store_url: str, bad: str) -> None:
    s = open_store(store_url)
    with pytest.raises(ValueError):
        s.count(bad)
    s.close()
