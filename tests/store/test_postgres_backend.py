"""What only the PostgreSQL backend promises: migrations run once (even when two
processes open the database at once), a batch commits whole or not at all, PostgreSQL
going away mid-ingest loses and doubles nothing, statements are time-limited, the
search indexes are the ones the compiler's expressions match, and every answer is the
SQLite store's for the same data (including the corners the shared cases do not reach:
mixed IPv4/IPv6 ranges, NUL bytes)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from netatlas.lab.pgserver import TempPostgres
from netatlas.model import Finding, Observation, Scan
from netatlas.query import FACETS, parse
from netatlas.store import FacetValue, Store, StoreUnavailable, open_store
from netatlas.store.postgres import PostgresStore
from netatlas.store.postgres import store as pgstore
from netatlas.store.postgres.compile import compile_where
from netatlas.store.postgres.packdoc import pack_doc, unpack_doc
from netatlas.store.postgres.schema import LATEST, MIGRATIONS
from netatlas.store.postgres.writer import ScanWrite, Writer, stage
from netatlas.store.rows import record_json, to_row
from tests.query.conftest import DATASET, HISTORY

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def obs(i: int, port: int = 80, when: datetime = T0, product: str = "nginx",
        **kw: object) -> Observation:
    kw.setdefault("scan_id", "s1")
    kw.setdefault("service", "http")
    return Observation(ip=f"127.{20 + i // 65536}.{i // 256 % 256}.{i % 256}", port=port,
                       transport="tcp", timestamp=when, product=product,
                       **kw)  # type: ignore[arg-type]


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_url)
    yield s
    s.close()


def _sql(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


# -- migrations ------------------------------------------------------------------------
def test_migrations_run_once_and_are_recorded(pg_url: str) -> None:
    first = PostgresStore(pg_url)
    assert [m.split(":")[0] for m in first.migrate()] == [str(v) for v, _, _ in MIGRATIONS]
    first.close()
    again = PostgresStore(pg_url)
    assert again.migrate() == [] and again.schema_version() == LATEST
    again.close()
    rows = _sql(pg_url, "SELECT version, description FROM schema_migrations ORDER BY version")
    assert rows == [(v, d) for v, d, _ in MIGRATIONS]
    assert _sql(pg_url, "SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")


def test_two_processes_opening_at_once_migrate_once(pg_url: str) -> None:
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            s = PostgresStore(pg_url)
            applied.append(s.migrate())
            s.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(MIGRATIONS)]


# -- writes ----------------------------------------------------------------------------
def test_a_batch_commits_whole_or_not_at_all(pg_url: str) -> None:
    PostgresStore(pg_url).close()  # the schema
    w = Writer(pg_url)
    try:
        rows = [stage(to_row(obs(i))) for i in range(3000)]
        # the batch's last statement fails after every row was inserted: none stays
        with pytest.raises(psycopg.errors.DivisionByZero):
            w._transaction([*rows, ScanWrite("SELECT 1 / 0", ())])
        w._rollback()
        assert _sql(pg_url, "SELECT count(*) FROM observations") == [(0,)]
        assert _sql(pg_url, "SELECT count(*) FROM latest") == [(0,)]
        w._transaction(rows)
        assert _sql(pg_url, "SELECT (SELECT count(*) FROM observations),"
                            " (SELECT count(*) FROM latest)") == [(3000, 3000)]
    finally:
        w.close()


def test_a_bad_row_is_reported_and_the_rest_of_its_batch_kept(pg: PostgresStore) -> None:
    pg.add_many(obs(i) for i in range(500))
    pg.add(obs(900, port=2**40))  # no such port: the integer column refuses it
    pg.add_many(obs(i) for i in range(500, 1000))
    with pytest.raises(RuntimeError, match="store write failed"):
        pg.flush()
    assert pg.count("") == 1000
    pg.add(obs(2000))
    pg.flush()  # the error was reported once
    assert pg.count("") == 1001


def test_scan_watermark_commits_with_the_observations_before_it(pg: PostgresStore) -> None:
    scan = Scan(id="w", started=T0, args={}, total=100)
    pg.begin_scan(scan)
    pg.add_many(obs(i) for i in range(100))
    scan.done = 100
    pg.update_scan(scan)
    pg.flush()
    got = pg.get_scan("w")
    assert got is not None and got.done == 100 and pg.count("") == 100


def _consistent(url: str) -> None:
    """latest holds one row per endpoint: its newest observation."""
    (bad,) = _sql(url, """
        SELECT count(*) FROM latest l LEFT JOIN observations o ON o.id = l.id
        WHERE o.id IS NULL OR o.ts <> l.ts
           OR (o.ip, o.port, o.transport) <> (l.ip, l.port, l.transport)
           OR o.ts <> (SELECT max(ts) FROM observations x WHERE x.ip = l.ip
                       AND x.port = l.port AND x.transport = l.transport)""")[0]
    assert bad == 0
    assert _sql(url, "SELECT count(DISTINCT (ip, port, transport)) FROM observations") == \
        _sql(url, "SELECT count(*) FROM latest")


def test_postgres_going_away_mid_ingest_loses_and_doubles_nothing(
        pg_server: TempPostgres, pg_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    n = 60_000
    s = PostgresStore(pg_url)
    try:
        feeder = threading.Thread(target=s.add_many, args=(
            (obs(i, when=T0 + timedelta(seconds=i % 7)) for i in range(n)),))
        feeder.start()
        deadline = time.monotonic() + 60
        while _sql(pg_url, "SELECT count(*) FROM observations")[0][0] < 5000:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pg_server.kill()  # kill -9 of the postmaster, mid-batch
        time.sleep(2)
        pg_server.restart()
        feeder.join(120)
        s.flush()
        assert s.count("") == n
        assert _sql(pg_url, "SELECT count(*), count(DISTINCT (ip, port, transport, ts))"
                            " FROM observations") == [(n, n)]
        _consistent(pg_url)
    finally:
        s.close()
    err = capfd.readouterr().err
    host = f"127.0.0.1:{pg_server.port}"
    lines = [line for line in err.splitlines() if "unreachable" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"netatlas: PostgreSQL at {host} unreachable (")
    assert "holding" in lines[0] and lines[0].endswith("records, retrying")


def test_readers_survive_a_server_restart(pg_server: TempPostgres, pg_url: str) -> None:
    pg = PostgresStore(pg_url, query_timeout=2)
    try:
        pg.add(obs(1))
        pg.flush()
        assert pg.count("") == 1
        pg_server.kill()
        with pytest.raises(StoreUnavailable, match="unreachable"):
            pg.count("")
        pg_server.restart()
        # the pool reconnects by itself (with back-off): the same store reads again
        deadline = time.monotonic() + 60
        while True:
            try:
                assert pg.count("") == 1
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        pg.close()


def test_unreachable_at_open_says_where() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    with pytest.raises(StoreUnavailable, match=f"PostgreSQL at 127.0.0.1:{port} unreachable"):
        PostgresStore(f"postgresql://postgres@127.0.0.1:{port}/x?connect_timeout=2")


def test_url_password_is_masked(pg_server: TempPostgres, pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    url = f"postgresql://postgres:s3cret@127.0.0.1:{pg_server.port}/{name}"
    s = PostgresStore(url)  # trust auth: the password is not checked
    try:
        assert "s3cret" not in s.url and s.url.startswith("postgresql://postgres:***@")
    finally:
        s.close()


# -- reads -----------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_statements_are_time_limited(pg_url: str) -> None:
    s = PostgresStore(pg_url, query_timeout=0.3)
    try:
        s.add(obs(1))
        s.flush()
        with psycopg.connect(pg_url) as locker:
            locker.execute("LOCK TABLE latest IN ACCESS EXCLUSIVE MODE")
            # the lock is held until this block ends: without the limit, a hang (the
            # test's timeout mark); with it, the statement is cancelled, and says so
            with pytest.raises(TimeoutError, match=r"query took longer than 0\.3s"):
                s.count("")
        assert s.count("") == 1  # the pooled connection is fine afterwards
    finally:
        s.close()


def _varied(i: int) -> Observation:
    """Rows whose values are rare enough that the planner wants an index for each."""
    return obs(i, port=1 + i % 1000, when=T0 + timedelta(seconds=i), product=f"prod{i % 400}",
               version=f"{i % 50}.{i % 7}", scan_id=f"scan{i % 200}",
               service=f"svc{i % 100}", data=f"banner word{i}".encode(),
               tags=[f"tag{i % 500}"], hostnames=[f"h{i}.lab"],
               cpe=[f"cpe:/a:v{i % 300}:prod{i % 400}:1.0"],
               risks=[Finding(f"risk{i % 300}", "critical" if i % 1000 == 0 else "low", "t")],
               vulns={f"CVE-2020-{i % 1000}": {"cvss": 5.0}},
               sections={"http": {"title": f"page {i}", "status": 200}})


@pytest.fixture(scope="module")
def planned(pg_server: TempPostgres) -> Iterator[str]:
    url = pg_server.create_database("planned")
    s = PostgresStore(url)
    s.add_many(_varied(i) for i in range(20_000))
    s.close()
    _sql(url, "ANALYZE")
    yield url
    pg_server.drop_database("planned")


@pytest.mark.parametrize(("query", "index"), [
    ("", "latest_ts"),
    ("port:22", "latest_port"),
    ("product:prod7 version:>1.2", "latest_product"),
    ("service:svc7", "latest_service"),
    ("version:>=49.6", "latest_version"),
    ("scan:scan7", "latest_scan"),
    ("net:127.20.3.0/28", "latest_pkey"),
    ('title:"page 1234*"', "latest_title"),
    ('http.title:"page 77"', "latest_title"),
    ("word1234", "latest_fts"),
    ("tag:tag7", "latest_tags"),
    ("hostname:h55.lab", "latest_hostnames"),
    ("cpe:cpe:/a:v7:prod7:1.0", "latest_cpe"),
    ("risk:risk7", "latest_risks"),
    ("vuln:CVE-2020-7", "latest_vulns"),
])
def test_searches_use_the_latest_indexes(planned: str, query: str, index: str) -> None:
    w = compile_where(parse(query))
    sql = (f"EXPLAIN SELECT o.id FROM latest o WHERE {w.sql}"
           " ORDER BY o.ts DESC, o.id DESC LIMIT 100")
    with psycopg.connect(planned, autocommit=True) as conn:
        plan = "\n".join(r[0] for r in conn.execute(sql, w.params).fetchall())
    assert index in plan, plan


@pytest.mark.parametrize("query", ["severity:critical", "risk:risk7", "vuln:CVE-2020-7"])
def test_shared_lists_are_found_by_index(planned: str, query: str) -> None:
    """Equality on a shared list reads docs by its index, then the records naming the
    documents found by theirs (with few documents the planner may hash-join instead:
    seq scans off shows the expressions match the indexes)."""
    w = compile_where(parse(query))
    index = "latest_vulns" if query.startswith("vuln") else "latest_risks"
    with psycopg.connect(planned, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT o.id FROM latest o WHERE {w.sql}"
            " ORDER BY o.ts DESC, o.id DESC LIMIT 100", w.params).fetchall())
    assert "docs_lower" in plan and index in plan, plan


@pytest.mark.parametrize(("query", "index"), [
    ("service:svc7", "latest_service"),
    ("product:prod7", "latest_product"),
    ("scan:scan7", "latest_scan"),
])
def test_counts_read_the_index_alone(planned: str, query: str, index: str) -> None:
    """A count names the column only through lower(...): the index carries the column
    too, or PostgreSQL visits every matching row in the table (15x slower at 1M)."""
    w = compile_where(parse(query))
    with psycopg.connect(planned, autocommit=True) as conn:
        conn.execute("VACUUM latest")  # index-only needs the visibility map set
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT count(*) FROM latest o WHERE {w.sql}", w.params).fetchall())
    assert f"Index Only Scan using {index}" in plan, plan


def test_page_seeks_the_newest_first_index(planned: str) -> None:
    with psycopg.connect(planned, autocommit=True) as conn:
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT o.id FROM latest o"
            " WHERE (o.ts, o.id) < (1e10, 5) ORDER BY o.ts DESC, o.id DESC LIMIT 10"))
    assert "latest_ts" in plan and "Sort" not in plan, plan


def test_banners_are_stored_once(pg: PostgresStore, pg_url: str) -> None:
    banner = b"HTTP/1.1 200 OK\r\n" + b"\x00\xff<x>" * 200
    pg.add_many(obs(i, data=banner) for i in range(50))
    pg.flush()
    assert _sql(pg_url, "SELECT count(*), max(length(data)) FROM blobs")[0][0] == 1
    assert all(r["data"].startswith("HTTP/1.1 200 OK") for r in pg.search("", limit=50))


def _shared(i: int) -> Observation:
    """Hosts behind one load balancer: the same certificate, location, CVEs and risks."""
    return obs(i, port=443, data=f"b{i}".encode(), cpe=["cpe:/a:f5:nginx:1.22.1"],
               location={"country_code": "NL", "city": "Delft"},
               risks=[Finding("tls-self-signed", "high", "t")],
               vulns={"CVE-2023-44487": {"cvss": 7.5}},
               sections={"ssl": {"version": "TLSv1.3",
                                 "cert": {"subject": {"CN": "lb.lab", "O": "x"},
                                          "issuer": {"CN": "ca"}, "expired": False}}})


def test_shared_values_are_stored_once(pg: PostgresStore, pg_url: str) -> None:
    pg.add_many(_shared(i) for i in range(40))
    pg.flush()
    # certificate, location, vulns, risks, cpe23: one document each, however many hosts
    assert _sql(pg_url, "SELECT count(*) FROM docs") == [(5,)]
    stored = unpack_doc(_sql(pg_url, "SELECT doc FROM observations LIMIT 1")[0][0])
    assert '"$ref"' in stored and "lb.lab" not in stored and "ip_str" not in stored
    want = [_shared(i).to_record() for i in range(40)]
    got = pg.search("", limit=100)
    assert sorted(got, key=lambda r: r["ip_str"]) == sorted(want, key=lambda r: r["ip_str"])
    assert all(list(r) == list(want[0]) for r in got)  # published key order
    for q, n in [("country:nl", 40), ("city:Delft", 40), ("ssl.cert.subject.cn:lb.lab", 40),
                 ("ssl.cert.expired:false", 40), ("vuln:cve-2023-44487", 40),
                 ("risk:tls-self-signed", 40), ("severity:>=high", 40), ("cvss:>7", 40),
                 ("has_vuln:true", 40), ("cpe:cpe:2.3:a:f5:nginx:1.22.1:*:*:*:*:*:*:*", 40),
                 ("cpe:cpe:/a:f5:nginx:1.22.1", 40), ("-country:NL", 0), ("vuln:CVE-1", 0),
                 ("severity:critical", 0)]:
        assert pg.count(q) == n, q
    facets = pg.facets("", ["country", "ssl.cert.subject.cn", "vuln", "severity"])
    assert [(f.value, f.count) for f in facets["country"]] == [("NL", 40)]
    assert [(f.value, f.count) for f in facets["vuln"]] == [("CVE-2023-44487", 40)]
    assert [(f.value, f.count) for f in facets["severity"]] == [("high", 40)]


@pytest.mark.parametrize("text", ["", "{}", '{"a":"\\u0000 \u00e9"}', "x" * 5000])
def test_stored_records_pack_and_unpack(text: str) -> None:
    assert unpack_doc(pack_doc(text)) == text


def test_records_stored_whole_still_read_and_match(pg: PostgresStore, pg_url: str) -> None:
    """A record stored whole (hot keys inside, shared values in place, as before the
    slim shape) comes back as it was and is found by fields under shared paths."""
    o = _shared(7)
    pg.add(obs(8))
    pg.flush()
    whole = {k: v for k, v in o.to_record().items() if k != "data"}
    whole["product"] = "whole-product"  # the record's own hot values win over columns
    _sql(pg_url, f"""
        WITH b AS (INSERT INTO blobs VALUES ('\\x01', '\\x00' || 'b7'::bytea)),
        x AS (INSERT INTO observations (ts, port, ip, transport, scan_id, status, blob_hash, doc)
              VALUES ({o.timestamp.timestamp()}, 443, '{o.ip}', 'tcp', 's1', 'success',
                      '\\x01', '\\x00'::bytea || convert_to('{record_json(whole)}', 'UTF8'))
              RETURNING id)
        INSERT INTO latest (ip, port, transport, ts, id, scan_id, status, record, fts)
        SELECT '{o.ip}', 443, 'tcp', {o.timestamp.timestamp()}, id, 's1', 'success',
               '{record_json(whole)}'::jsonb, ''::tsvector FROM x""")
    want = {**o.to_record(), "product": "whole-product"}
    assert pg.search("port:443") == [want]
    for q in ("country:NL", "ssl.cert.subject.cn:lb.lab", "severity:>=high", "cvss:>7",
              "has_vuln:true", "vuln:CVE-2023*"):
        assert [r["ip_str"] for r in pg.search(q)] == [o.ip], q
    assert [(f.value, f.count) for f in pg.facets("", ["city"])["city"]] == [("Delft", 1)]


def test_facets_above_the_threshold_count_a_sample(pg: PostgresStore,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pg.add_many(obs(i, port=80 + i % 3) for i in range(3000))
    pg.flush()
    exact = pg.facets("", ["port"])
    assert exact.approximate is False
    with pg._conn() as conn:
        conn.execute("ANALYZE latest")
    monkeypatch.setattr(pgstore, "FACET_EXACT_MAX", 100)
    monkeypatch.setattr(pgstore, "FACET_SAMPLE_ROWS", 10**9)  # every page: exact counts
    # over everything, a column's facet is its running total (test_column_totals.py):
    # a query that matches every row counts the rows
    assert pg.facets("", ["port"]).approximate is False
    sampled = pg.facets("port:>=0", ["port"])
    assert sampled.approximate is True
    assert sampled == exact
    assert pg.facets("port:80", ["port"]).approximate is True
    assert pg.facets("ip:127.20.0.1", ["port"]).approximate is False


# -- the same answers as SQLite ----------------------------------------------------------
EXTRA = [
    Observation(ip="2001:db8::7", port=80, transport="tcp", timestamp=T0, scan_id="s3",
                service="http", product="nginx", version="1.25.0"),
    Observation(ip="::ffff:127.30.0.1", port=81, transport="tcp", timestamp=T0, scan_id="s3",
                service="http", product="nul\x00product", version="1.0",
                sections={"http": {"title": "a\x00b", "status": 200}},
                data=b"\x00 nul banner"),
    Observation(ip="::2", port=82, transport="tcp", timestamp=T0, scan_id="s3",
                tags=["Web", "web", "WEB"], vulns={"CVE-1-1": {"cvss": "9.8"}}),
]
CORNERS = [
    "ip:[127.20.0.5 TO *]", "ip:[* TO 127.20.0.2]", "ip:>::1", "ip:<127.20.0.3",
    "ip:>=::ffff:127.20.0.9", "ip:[::1 TO 127.20.0.2]", "ip:[::1 TO ::2]",
    "ip:::ffff:127.30.0.1", "ip:127.30.0.1", "net:::/0", "net:::ffff:0:0/96",
    "net:::ffff:127.20.0.0/120", "net:2001:db8::/32", "net:::/64", "ip:2001:*",
    "ip:[127.20.0.3 TO 127.20.0.2]", 'product:"nul\x00product"', 'title:"a\x00b"',
    "product:nul*", "tag:web", "cvss:>1", "has_vuln:true", "vuln:cve-1-1",
    "nul", "banner", "version:<1.0.1", "version:1.25*", "-net:::/0", "asn:*",
    "ssl.cert.expired:false", "http.status:[* TO 250]",
]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory,
         pg_server: TempPostgres) -> Iterator[tuple[Store, Store]]:
    url = pg_server.create_database("differential")
    stores = (open_store(Path(tmp_path_factory.mktemp("diff")) / "s.db"), open_store(url))
    for s in stores:
        s.add(HISTORY)
        for o, extra in DATASET.values():
            s.add(dataclasses.replace(o, **extra))
        s.add_many(EXTRA)
        s.flush()
    yield stores
    for s in stores:
        s.close()
    pg_server.drop_database("differential")


def _found(s: Store, query: str) -> list[tuple[str, int]]:
    return [(r["ip_str"], r["port"]) for r in s.search(query, limit=1000)]


@pytest.mark.parametrize("query", CORNERS)
def test_same_answers_as_sqlite(both: tuple[Store, Store], query: str) -> None:
    lite, pg = both
    assert _found(pg, query) == _found(lite, query)
    assert pg.count(query) == lite.count(query)
    assert list(pg.iter_search(query)) == list(lite.iter_search(query))


def _nul(value: object) -> object:
    # PostgreSQL text holds no NUL: facet values (column text) show U+FFFD instead
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


@pytest.mark.parametrize("name", FACETS)
def test_same_facets_as_sqlite(both: tuple[Store, Store], name: str) -> None:
    lite, pg = both
    want = [FacetValue(_nul(f.value), f.count) for f in lite.facets("", [name], 100)[name]]
    assert pg.facets("", [name], 100)[name] == want


def test_same_records_and_history_as_sqlite(both: tuple[Store, Store]) -> None:
    lite, pg = both
    assert list(pg.iter_search("")) == list(lite.iter_search(""))
    for ip in ("127.20.0.1", "::ffff:127.30.0.1", "127.30.0.1", "::1"):
        assert pg.host(ip) == lite.host(ip) and pg.host(ip, False) == lite.host(ip, False)
    exported = [(o.to_record(), o.data) for _, o in pg.export_all()]
    assert exported == [(o.to_record(), o.data) for _, o in lite.export_all()]
