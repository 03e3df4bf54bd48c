"""PostgreSQL backend of the ``Store`` interface.

Writes go through one writer thread (``writer.py``: batched COPY, one transaction per
batch, retried across outages); reads come from a small connection pool, each statement
bounded by ``statement_timeout``. Every observation is kept; search, count, facets and
pages read only the latest one per (ip, port, transport) (``is_latest``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from netatlas.model import Observation, Scan
from netatlas.query import parse
from netatlas.query.fields import facet_field
from netatlas.store import cursor
from netatlas.store.base import (
    ApiKey,
    CveCandidate,
    CveEntry,
    CveRange,
    FacetCounts,
    FacetValue,
    KeyRow,
    Page,
    StoreUnavailable,
)
from netatlas.store.dictpack import Dictionaries
from netatlas.store.encoding import Encoders, bulk
from netatlas.store.facetkeys import counted_column
from netatlas.store.keys import hash_key, new_key
from netatlas.store.rows import (
    REF,
    SCAN_COLUMNS,
    SHARED_PATHS,
    load_record,
    publish,
    scan_from_row,
    scan_row,
    unpack_blob,
)

from . import schema, totals
from .compile import SqlWhere, compile_where, facet_sql
from .inet import stored_form
from .packdoc import unpack_doc
from .writer import (
    RETRY_LIMIT,
    ScanWrite,
    Staged,
    Writer,
    connect_options,
    encode,
    reason,
    server_address,
)

if TYPE_CHECKING:
    from .shards import PostgresShards


def _not_a_reconnect_failure(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("error connecting in 'netatlas-")


# The pool logs each failed reconnection while the server is away, a screenful a minute;
# the writer already says so, once. Other pool messages pass.
logging.getLogger("psycopg.pool").addFilter(_not_a_reconnect_failure)

QUERY_TIME_LIMIT = 20.0  # seconds; every user-driven statement is bounded
POOL_MAX = 8
STREAM_ROWS = 500  # rows per FETCH of a streaming read

# Facets over more latest rows than this count a sample of them (scaled up, and said so:
# FacetCounts.approximate); below it they are exact.
# At 1M observations (337k services) port,product,service over everything: exact
# 320-470 ms, over a 50k-row sample 115-135 ms with the top values within 1 %.
FACET_EXACT_MAX = 100_000
FACET_SAMPLE_ROWS = 50_000  # about how many rows a sampled facet reads
DOC_CACHE = 20_000  # shared documents kept (immutable: keyed by their content's hash)
# What a published record is rebuilt from (rows.publish): the stored record, the hot
# columns in its order, the banner. From observations `x` (the exact values; `latest` is
# for search).
_RECORD = ("x.doc, coalesce(x.ip_text, host(x.ip)), x.port, x.transport, x.ts, x.scan_id,"
           " x.status, x.service, x.product, x.version, b.data")
_HISTORY = "observations x LEFT JOIN blobs b ON b.hash = x.blob_hash"
_KEY_COLUMNS = "id, role, name, created, revoked, rate, burst"
_RANGE_COLUMNS = ("part, vendor, product, version, start_incl, start_excl, end_incl, end_excl,"
                  " criteria")
# The SQLite store streams in its byte order of addresses, where IPv6 below the IPv4-mapped
# block comes first, then IPv4, then the rest of IPv6; PostgreSQL puts IPv4 first. Three
# index range scans, one after the other, give that order.
_ADDRESS_SPANS = (
    "o.ip >= '::'::inet AND o.ip < '::ffff:0.0.0.0'::inet",
    "o.ip < '::'::inet",
    "o.ip >= '::ffff:0.0.0.0'::inet",
)
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL (or key=value conninfo) with any password replaced by ``***``."""
    if "://" not in url:
        return _PASSWORD_KV.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = userinfo.split(":", 1)[0] + ":***@" + host
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query, flags=re.IGNORECASE)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _with_timeout(url: str, seconds: float) -> str:
    """The URL's own server ``options`` plus a statement time limit."""
    try:
        given = conninfo_to_dict(url).get("options") or ""
    except psycopg.ProgrammingError:
        given = ""
    return f"{given} -c statement_timeout={max(1, int(seconds * 1000))}".strip()


def _refs(stored: dict[str, Any]) -> Iterator[str]:
    """The hashes of the shared documents a stored record names."""
    for path in SHARED_PATHS:
        value: Any = stored
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, dict) and set(value) == {REF} and isinstance(value[REF], str):
            yield value[REF]


class _Docs:
    """Shared documents by hash, as written (JSON text), the most recently used kept in
    memory: documents never change, so a cached one is never stale. Each record gets
    its own decoded copy (callers may change what they are given)."""

    def __init__(self, size: int = DOC_CACHE) -> None:
        self._size = size
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, hashes: set[str], conn: psycopg.Connection) -> dict[str, str]:
        """The documents for ``hashes``: from memory, the others in one query."""
        found: dict[str, str] = {}
        with self._lock:
            for h in hashes:
                raw = self._cache.get(h)
                if raw is not None:
                    self._cache.move_to_end(h)
                    found[h] = raw
        missing = [h for h in hashes if h not in found]
        if missing:
            rows = conn.execute("SELECT hash, raw FROM docs WHERE hash = ANY(%s)",
                                [missing]).fetchall()
            with self._lock:
                for h, raw in rows:
                    found[h] = raw
                    self._cache[h] = raw
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return found


def _facet_value(value: Any) -> Any:
    """numeric -> int when whole (as SQLite gives), else float."""
    if value is None or isinstance(value, int | str):
        return value
    number = float(value)
    return int(value) if number.is_integer() else number


class PostgresStore:
    readers = POOL_MAX  # reads served at once: the API admits as many (api/_admission)
    # made on first use by netatlas.store.shards.shard_tables (no attribute until then)
    _shard_tables: PostgresShards

    def __init__(self, url: str, retry_limit: float = RETRY_LIMIT,
                 query_timeout: float = QUERY_TIME_LIMIT) -> None:
        self.url = mask_url(url)
        self._query_timeout = query_timeout
        self._where = server_address(url)
        self._options = connect_options(url)
        try:
            with psycopg.connect(url, **self._options, autocommit=True) as conn:
                self.applied = schema.migrate(conn)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc
        self._dsn = url
        self._pool = ConnectionPool(
            # min_size 0: no background reconnection (and its log lines) while the
            # server is away; the writer says so, once
            url, min_size=0, max_size=POOL_MAX, name="netatlas-read", open=True,
            timeout=query_timeout,  # a read that cannot get a connection fails as late
            check=ConnectionPool.check_connection,  # a server restart leaves dead ones
            kwargs={**self._options, "autocommit": True,
                    "options": _with_timeout(url, query_timeout)},
        )
        self._writer = Writer(url, retry_limit=retry_limit)
        self._encoders: Encoders[Staged] | None = None
        self._docs = _Docs()
        self._dicts = Dictionaries(self._fetch_dict)
        self._closed = False

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"PostgreSQL at {self._where} unreachable ({reason(exc)})")

    # -- writes (through the writer, in order) -------------------------------------------
    def begin_scan(self, scan: Scan) -> None:
        self._writer.put(ScanWrite(
            "INSERT INTO scans (id, started, finished, status, args, done, total, open_ports,"
            " observations) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET started = excluded.started,"
            " finished = excluded.finished, status = excluded.status, args = excluded.args,"
            " done = excluded.done, total = excluded.total, open_ports = excluded.open_ports,"
            " observations = excluded.observations",
            scan_row(scan)))

    def update_scan(self, scan: Scan) -> None:
        self._writer.put(ScanWrite(
            "UPDATE scans SET finished = %s, status = %s, args = %s, done = %s, total = %s,"
            " open_ports = %s, observations = %s WHERE id = %s",
            (*scan_row(scan)[2:], scan.id)))

    def add(self, obs: Observation) -> None:
        # encoded here, in the caller's thread: a snapshot of the observation (a bad
        # address fails at the caller), and the writer's time goes to PostgreSQL
        self._writer.put(encode(obs))

    def add_many(self, observations: Iterable[Observation]) -> None:
        # many: encoded by worker processes beside the writer (store/encoding.py)
        for staged in bulk(observations, encode, self._bulk_encoders):
            self._writer.put(staged)

    def _bulk_encoders(self) -> Encoders[Staged]:
        if self._encoders is None:
            self._encoders = Encoders(encode)
        return self._encoders

    def flush(self) -> None:
        self._writer.flush()

    def already_stored(self) -> int:
        return self._writer.already

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._encoders is not None:
                self._encoders.close()
            self._writer.close()
        finally:
            self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; a cancelled statement is a TimeoutError, a server that
        cannot be reached is StoreUnavailable."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.errors.QueryCanceled as exc:
            raise TimeoutError(f"query took longer than {self._query_timeout:g}s") from exc
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return conn.execute(sql, list(params)).fetchall()

    def _fetch_dict(self, dict_id: int) -> bytes | None:
        rows = self._fetch("SELECT data FROM zdicts WHERE id = %s", [dict_id])
        return bytes(rows[0][0]) if rows else None

    def _stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows through a server-side cursor: the time limit bounds each FETCH."""
        with (self._conn() as conn, conn.transaction(),
              conn.cursor(name="netatlas_stream") as cur):
            cur.itersize = STREAM_ROWS
            cur.execute(sql, list(params))
            yield from cur

    def _records(self, sql: str, params: Iterable[Any] = (), skip: int = 0
                 ) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
        """(the rows, their published records): ``sql`` selects ``skip`` columns, then
        _RECORD's; the shared documents of the lot are read in one more query."""
        with self._conn() as conn:
            rows = conn.execute(sql, list(params)).fetchall()
            return rows, self._publish(rows, conn, skip)

    def _publish(self, rows: list[tuple[Any, ...]], conn: psycopg.Connection,
                 skip: int = 0) -> list[dict[str, Any]]:
        stored = [load_record(unpack_doc(r[skip], self._dicts)) for r in rows]
        docs = self._docs.get({h for s in stored for h in _refs(s)}, conn)

        def resolve(h: str) -> Any:
            return load_record(docs[h])

        return [publish(s, r[skip + 1:skip + 10],
                        unpack_blob(r[skip + 10], self._dicts) if r[skip + 10] else b"",
                        resolve) for s, r in zip(stored, rows, strict=True)]

    def _stream_records(self, sql: str, params: Iterable[Any] = (), skip: int = 0
                        ) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
        """(row, published record) through a server-side cursor, a FETCH at a time."""
        with (self._conn() as conn, conn.transaction(),
              conn.cursor(name="netatlas_stream") as cur):
            cur.execute(sql, list(params))
            while rows := cur.fetchmany(STREAM_ROWS):
                # the documents on the same connection, between two FETCHes of the cursor
                records = self._publish(rows, conn, skip)
                yield from zip(rows, records, strict=True)

    @staticmethod
    def _compile(query: str) -> SqlWhere:
        return compile_where(parse(query))

    def search(self, query: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        w = self._compile(query)
        # the page's ids picked and sorted on the indexes alone; records for those only
        _, records = self._records(
            f"SELECT {_RECORD} FROM (SELECT o.id, o.ts FROM latest o WHERE {w.sql}"
            "  ORDER BY o.ts DESC, o.id DESC LIMIT %s OFFSET %s) AS p"
            " JOIN observations x ON x.id = p.id LEFT JOIN blobs b ON b.hash = x.blob_hash"
            " ORDER BY p.ts DESC, p.id DESC", [*w.params, limit, offset])
        return records

    def page(self, query: str, limit: int = 100, after: str | None = None) -> Page:
        w = self._compile(query)
        sql, params = w.sql, list(w.params)
        if after is not None:
            ts, row_id = cursor.decode(query, after)
            sql += " AND (o.ts, o.id) < (%s, %s)"
            params += [ts, row_id]
        rows, records = self._records(
            f"SELECT p.ts, p.id, {_RECORD} FROM (SELECT o.id, o.ts FROM latest o"
            f" WHERE {sql} ORDER BY o.ts DESC, o.id DESC LIMIT %s) AS p"
            " JOIN observations x ON x.id = p.id LEFT JOIN blobs b ON b.hash = x.blob_hash"
            " ORDER BY p.ts DESC, p.id DESC", [*params, limit + 1], skip=2)
        more = len(rows) > limit
        rows, records = rows[:limit], records[:limit]
        nxt = cursor.encode(query, rows[-1][0], rows[-1][1]) if more and rows else None
        return Page(records, nxt)

    def iter_search(self, query: str) -> Iterator[dict[str, Any]]:
        w = self._compile(query)
        for span in _ADDRESS_SPANS:
            for _, record in self._stream_records(
                    f"SELECT {_RECORD} FROM latest o JOIN observations x ON x.id = o.id"
                    f" LEFT JOIN blobs b ON b.hash = x.blob_hash WHERE ({w.sql}) AND {span}"
                    " ORDER BY o.ip, o.port, o.transport", w.params):
                yield record

    def count(self, query: str) -> int:
        """How many latest rows match: from the column totals when every term tests one
        totaled column (``service:http``), else by counting the rows."""
        parsed = parse(query)
        w = compile_where(parsed)
        column = counted_column(parsed)
        if column is not None:
            with self._conn() as conn:
                return totals.count(conn, column, w.sql, w.params)
        return int(self._fetch(f"SELECT count(*) FROM latest o WHERE {w.sql}",
                               w.params)[0][0])

    def facets(
        self, query: str, names: list[str], size: int = 10
    ) -> FacetCounts:
        """The top ``size`` values of each facet over what ``query`` matches. Exact up
        to FACET_EXACT_MAX matching rows (the planner's estimate); above that, counted
        over a fixed random sample of the table's pages (about FACET_SAMPLE_ROWS rows,
        the same pages every time) and scaled up: the result's ``approximate`` says
        which."""
        parsed = parse(query)
        w = compile_where(parsed)
        plans = [(name, facet_sql(name)) for name in names]  # unknown names fail first
        out = FacetCounts()
        with self._conn() as conn:
            # over everything, a column's facet is the writer's running totals, exact
            summed = {name: totals.top(conn, column, facet_field(f.name).facet_nocase, size)
                      for name, f in plans
                      if parsed.root is None and (column := totals.column_of(f.name))}
            counted = [f for name, f in plans if name not in summed]
            percent = self._sample_percent(conn, w) if counted else None
            sample = "" if percent is None else f" TABLESAMPLE SYSTEM ({percent!r}) REPEATABLE (1)"
            scale = 1.0 if percent is None else 100.0 / percent
            out.approximate = percent is not None
            for name, f in plans:
                if name in summed:
                    out[name] = summed[name]
                    continue
                order = 'value COLLATE "C"' if f.text else "value"
                rows = conn.execute(
                    f"SELECT value, n FROM (SELECT {f.expr} AS value, count(*) AS n"
                    f" FROM latest o{sample} {f.join}"
                    f" WHERE ({w.sql}) AND {f.notnull} IS NOT NULL GROUP BY {f.group}) AS f"
                    f" ORDER BY n DESC, {order} LIMIT %s", [*w.params, size]).fetchall()
                out[name] = [FacetValue(_facet_value(v), round(int(n) * scale))
                             for v, n in rows]
        return out

    @staticmethod
    def _sample_percent(conn: psycopg.Connection, w: SqlWhere) -> float | None:
        """The share of pages to sample (percent), or None to count every row: when the
        planner expects more than FACET_EXACT_MAX rows to match."""
        (total,) = schema.one_row(conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'latest'::regclass"))
        if total is None or total <= FACET_EXACT_MAX:
            return None
        plan = schema.one_row(conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM latest o WHERE {w.sql}", w.params))[0]
        if plan[0]["Plan"]["Plan Rows"] <= FACET_EXACT_MAX:
            return None
        return min(100.0, round(100.0 * FACET_SAMPLE_ROWS / total, 3))

    def host(self, ip: str, history: bool = True) -> list[dict[str, Any]]:
        """Every observation of one host, newest first (only the latest per port
        unless ``history``)."""
        addr = stored_form(ip)
        latest = "" if history else " AND x.id IN (SELECT id FROM latest WHERE ip = %s::inet)"
        _, records = self._records(
            f"SELECT {_RECORD} FROM {_HISTORY} WHERE x.ip = %s::inet{latest}"
            " ORDER BY x.ts DESC, x.id DESC", [addr] if history else [addr, addr])
        return records

    # -- scans -----------------------------------------------------------------------------
    def get_scan(self, scan_id: str) -> Scan | None:
        rows = self._fetch(f"SELECT {SCAN_COLUMNS} FROM scans WHERE id = %s", [scan_id])
        return scan_from_row(rows[0]) if rows else None

    def scans(self) -> list[Scan]:
        rows = self._fetch(f"SELECT {SCAN_COLUMNS} FROM scans ORDER BY started DESC, id")
        return [scan_from_row(r) for r in rows]

    # -- API keys --------------------------------------------------------------------------
    def create_key(self, role: str, name: str = "", rate: float | None = None,
                   burst: int | None = None) -> tuple[str, ApiKey]:
        """Make a key; returns (secret, record). Only the secret's SHA-256 is kept."""
        secret, row = new_key(role, name, rate, burst)
        self.import_keys([row])
        return secret, row.key

    def verify_key(self, secret: str) -> ApiKey | None:
        """The live key for this secret, or None (unknown or revoked)."""
        if not secret or len(secret) > 256:
            return None
        rows = self._fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys"
                           " WHERE hash = %s AND revoked IS NULL", [hash_key(secret)])
        return ApiKey(*rows[0]) if rows else None

    def list_keys(self) -> list[ApiKey]:
        rows = self._fetch(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created, id")
        return [ApiKey(*r) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        with self._conn() as conn:
            cur = conn.execute("UPDATE api_keys SET revoked = %s"
                               " WHERE id = %s AND revoked IS NULL", [time.time(), key_id])
            return cur.rowcount > 0

    def key_rows(self) -> list[KeyRow]:
        rows = self._fetch(f"SELECT {_KEY_COLUMNS}, hash FROM api_keys ORDER BY created, id")
        return [KeyRow(ApiKey(*r[:7]), r[7]) for r in rows]

    def import_keys(self, rows: Iterable[KeyRow]) -> None:
        """Keys with their hashes; one with the same id or hash is replaced."""
        params = [(r.key.id, r.key.role, r.key.name, r.key.created, r.key.revoked, r.key.rate,
                   r.key.burst, r.hash) for r in rows]
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            for p in params:
                cur.execute("DELETE FROM api_keys WHERE id = %s OR hash = %s", (p[0], p[7]))
                cur.execute(f"INSERT INTO api_keys ({_KEY_COLUMNS}, hash)"
                            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", p)

    def _fetch_none(self, sql: str, params: Iterable[Any]) -> None:
        with self._conn() as conn:
            conn.execute(sql, list(params))

    # -- the offline CVE feed ----------------------------------------------------------------
    def cve_import(self, entries: Iterable[CveEntry]) -> int:
        """Load CVEs; one imported again replaces its rows. One transaction, no time
        limit (a whole NVD feed is a few hundred thousand rows)."""
        n = 0
        it = iter(entries)
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = 0")
            while chunk := list(islice(it, 2000)):
                n += len(chunk)
                last = {e.id: e for e in chunk}  # a CVE listed twice: the last one wins
                cur.execute("DELETE FROM cve_cpe WHERE cve_id = ANY(%s)", [list(last)])
                cur.executemany(
                    "INSERT INTO cve (id, cvss, severity, summary, published, modified)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " cvss = excluded.cvss, severity = excluded.severity,"
                    " summary = excluded.summary, published = excluded.published,"
                    " modified = excluded.modified",
                    [(e.id, e.cvss, e.severity, e.summary, e.published, e.modified)
                     for e in last.values()])
                with cur.copy(f"COPY cve_cpe (cve_id, {_RANGE_COLUMNS}) FROM STDIN") as copy:
                    for e in last.values():
                        for r in e.ranges:
                            copy.write_row((e.id, r.part, r.vendor, r.product, r.version,
                                            r.start_incl, r.start_excl, r.end_incl,
                                            r.end_excl, r.criteria))
        return n

    def cve_count(self) -> int:
        return int(self._fetch("SELECT count(*) FROM cve")[0][0])

    def cve_candidates(self, part: str, product: str,
                       vendors: tuple[str, ...]) -> list[CveCandidate]:
        rows = self._fetch(
            f"SELECT c.id, c.cvss, c.severity, c.summary, {_prefixed('m', _RANGE_COLUMNS)}"
            " FROM cve_cpe m JOIN cve c ON c.id = m.cve_id"
            " WHERE m.product = %s AND m.part = %s AND m.vendor = ANY(%s)"
            ' ORDER BY m.cve_id COLLATE "C", m.seq', [product, part, list(vendors)])
        return [CveCandidate(r[0], r[1], r[2], r[3] or "", CveRange(*r[4:])) for r in rows]

    def cve_entries(self) -> Iterator[CveEntry]:
        rows = self._stream(
            f"SELECT c.id, c.cvss, c.severity, c.summary, c.published, c.modified,"
            f" m.seq, {_prefixed('m', _RANGE_COLUMNS)}"
            ' FROM cve c LEFT JOIN cve_cpe m ON m.cve_id = c.id ORDER BY c.id COLLATE "C", m.seq')
        entry: CveEntry | None = None
        for r in rows:
            if entry is None or entry.id != r[0]:
                if entry is not None:
                    yield entry
                entry = CveEntry(r[0], r[1], r[2], r[3] or "", r[4], r[5])
            if r[6] is not None:
                entry.ranges.append(CveRange(*r[7:]))
        if entry is not None:
            yield entry

    # -- schema and moving a whole store -------------------------------------------------
    def schema_version(self) -> int:
        with self._conn() as conn:
            return schema.current_version(conn)

    def migrate(self) -> list[str]:
        """Migrations run when the store opens; this says which ones that was (and
        applies any a newer process added since)."""
        try:
            with psycopg.connect(self._dsn, **self._options, autocommit=True) as conn:
                self.applied += schema.migrate(conn)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc
        return list(self.applied)

    def compact(self, full: bool = False) -> None:
        """What is queued is written first; then schema.compact."""
        self.flush()
        try:
            with psycopg.connect(self._dsn, **self._options, autocommit=True) as conn:
                schema.compact(conn, full)
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from exc

    def export_all(self, after_id: int = 0) -> Iterator[tuple[int, Observation]]:
        """Every observation (history too) in id order, rebuilt with its exact banner."""
        for row, record in self._stream_records(
                f"SELECT x.id, {_RECORD} FROM {_HISTORY} WHERE x.id > %s ORDER BY x.id",
                [after_id], skip=1):
            blob = row[-1]
            yield row[0], Observation.from_record(
                record, unpack_blob(blob, self._dicts) if blob else b"")

    def meta_get(self, key: str) -> str | None:
        rows = self._fetch("SELECT value FROM meta WHERE key = %s", [key])
        return rows[0][0] if rows else None

    def meta_set(self, key: str, value: str) -> None:
        self._fetch_none("INSERT INTO meta (key, value) VALUES (%s, %s)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])

    def disk_bytes(self) -> int:
        return int(self._fetch("SELECT pg_database_size(current_database())")[0][0])


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))
