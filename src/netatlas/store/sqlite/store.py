"""SQLite backend: WAL, one writer thread fed by a queue, read-only connections for reads.

Every observation is appended (history is never overwritten); ``is_latest`` moves to
the newest observation per (ip, port, transport) in the same transaction, so search
sees a consistent view. Observations are written in batches (``executemany``, one
transaction each): a crash loses at most the batch in flight, never a committed one,
and never leaves half of a batch visible.
"""

from __future__ import annotations

import functools
import os
import queue
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any, TypeVar

from netatlas.model import Observation, Scan, banner_text
from netatlas.query import Query, facet_field, parse
from netatlas.query.ipbin import ip_to_bin
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
)
from netatlas.store.dictpack import FIRST_ID, TRAIN_MAX, ZSTD, Dictionaries
from netatlas.store.encoding import Encoders, bulk
from netatlas.store.facetkeys import COUNTED, ROW_FACETS, counted_column, load_pairs
from netatlas.store.keys import hash_key, new_key
from netatlas.store.rows import (
    SCAN_COLUMNS,
    ObsRow,
    index_words,
    load_record,
    pack_blob,
    pack_record,
    publish,
    scan_from_row,
    scan_row,
    to_row,
    unpack_blob,
    unpack_record,
)

from . import schema, totals
from .compile import compile_where, facet_sql
from .fields import register_functions

T = TypeVar("T")
# Observations per transaction under load (an idle queue commits at once). Large: at
# 2,000 a batch, COMMIT (writing the dirtied index pages to the WAL) took 45 % of the
# writer's time; at 20,000 the same pages are written once for ten times the rows
# (7k -> 13k obs/s). A crash loses at most the batch in flight, which a scan's resume
# watermark (queued after it) never passed.
BATCH_ROWS = 20_000
# Rows waiting for the writer (about 3.4 KB each in memory): enough to keep a batch
# filling while the last one commits, not a second batch's worth.
QUEUE_ROWS = 5_000
QUERY_TIME_LIMIT = 20.0  # seconds; every user-driven query is bounded
# Facets over more matching rows than this count a sample of about FACET_SAMPLE_ROWS
# (scaled up; FacetCounts.approximate says so), as Shodan's do.
FACET_EXACT_MAX = 100_000  # a facet over everything reads the running totals instead
FACET_SAMPLE_ROWS = 50_000  # at 2M rows: port:80 by country 720 -> 330 ms
# Phrases matching more stored rows than this are checked along the newest rows rather
# than looked up one by one (at 2M rows: "nginx" 1,000 -> 100 ms; rare words stay ~1 ms).
FTS_FREQUENT = 2_000
READER_MMAP = 1 << 31  # bytes of the file a reader maps (SQLite's own cap is 2 GB)
READER_CACHE_KB = 32_768  # page cache per reader connection (one per thread)
# Reads worth running at once (a reader connection each, one per thread): they are
# CPU-bound once the file is in the page cache, so past the cores they only share
# them; a few more cover reads waiting on the disk. The API admits as many (_admission).
READERS = max(4, 2 * (os.cpu_count() or 1))
WRITER_CACHE_KB = 262_144  # the writer seeks every endpoint's latest row: indexes in memory
# A CVE feed's rows are written once, not sought: while one is imported the writer's page
# cache is held to this (at WRITER_CACHE_KB a 107 MB feed took the process to 148 MB).
CVE_IMPORT_CACHE_KB = 16_384
CVE_IMPORT_BATCH = 1_000  # CVEs per executemany
REPACK_ROWS = 5_000  # rows per transaction while compact packs what was stored unpacked
_SEEN_BLOBS = 50_000  # banner hashes known to be stored (skip the INSERT OR IGNORE)
_DOC_CACHE = 20_000  # shared values kept decoded (immutable: keyed by their content)

# id, ts, stored record, banner, then the hot columns in rows.publish's order
_SELECT = ("SELECT o.id, o.ts, o.record, b.data, o.ip, o.port, o.transport, o.ts, o.scan_id,"
           " o.status, o.service, o.product, o.version FROM observations o"
           " JOIN blobs b ON b.hash = o.blob_hash")
_ROW_FACET_COLUMNS = ", ".join(f"o.{name}" for _, name in ROW_FACETS)
# a latest row's stored facet pairs (None: never counted) and its ROW_FACETS columns
_Counted = tuple[str | bytes | None, tuple[Any, ...]]
_CVE_RANGE = "part, vendor, product, version, start_incl, start_excl, end_incl, end_excl, criteria"


class _Stop:
    pass


def encode(obs: Observation) -> ObsRow:
    """An observation as this backend's writer takes it (it stores ``record_text``);
    module-level: encoder processes run it (store/encoding.py)."""
    return to_row(obs, keep_record=False)


def _remember(seen: OrderedDict[Any, None], keys: Any, limit: int) -> None:
    """Keys known to be committed, newest last, at most ``limit``."""
    for key in keys:
        seen[key] = None
    while len(seen) > limit:
        seen.popitem(last=False)


@dataclass(slots=True)
class _Call:
    """A write whose caller waits for its result (after the commit, not before)."""

    fn: Callable[[sqlite3.Connection], Any]
    done: Future[Any]
    transaction: bool = True  # False: statements that must run outside one (VACUUM)


# a list: rows of a bulk add, queued as one item; a callable's result is dropped
_Job = ObsRow | list[ObsRow] | _Call | Callable[[sqlite3.Connection], object] | _Stop
# Rows a bulk add queues at once: a put and a get per row were a tenth of the writer's time.
CHUNK_ROWS = 256


class _RowQueue(queue.Queue[_Job]):
    """The writer's queue, bounded by the rows it holds, not by its items (a bulk add's
    chunk weighs its length): what waits in memory stays about QUEUE_ROWS rows."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self._rows = 0

    def _qsize(self) -> int:
        return self._rows

    def _put(self, item: _Job) -> None:
        self._rows += _weight(item)
        super()._put(item)

    def _get(self) -> _Job:
        item = super()._get()
        self._rows -= _weight(item)
        return item


def _weight(job: _Job) -> int:
    return len(job) if isinstance(job, list) else 1


class SQLiteStore:
    readers = READERS

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = self.path
        conn = self._connect(readonly=False)
        try:
            self.applied = schema.migrate(conn)
        finally:
            conn.close()
        self._queue = _RowQueue(maxsize=QUEUE_ROWS)
        self._error: BaseException | None = None
        self._already = 0  # observations sent that were stored already (writer's count)
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._seen_docs: OrderedDict[str, None] = OrderedDict()
        self._docs: OrderedDict[str, Any] = OrderedDict()
        self._docs_lock = threading.Lock()
        self._local = threading.local()
        self._encoders: Encoders[ObsRow] | None = None
        self._dicts = Dictionaries(self._fetch_dict)
        self._writer = threading.Thread(
            target=self._write_loop, name="netatlas-writer", daemon=True
        )
        self._writer.start()

    # -- connections ---------------------------------------------------------------
    def _connect(self, readonly: bool) -> sqlite3.Connection:
        if readonly:
            uri = f"file:{Path(self.path).resolve()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
            # Searches seek rows all over the file: read it through the OS's page cache
            # (mapped, shared by every reader) and keep more of it per connection than
            # SQLite's 2 MB default. A full-text search at 2M rows: 111 -> 60 ms.
            conn.execute(f"PRAGMA mmap_size={READER_MMAP}")
            conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KB}")
        else:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KB}")
            # the WAL is emptied at each checkpoint; do not let its file stay large
            conn.execute("PRAGMA journal_size_limit=16777216")
        conn.execute("PRAGMA busy_timeout=30000")
        register_functions(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(readonly=True)
            self._local.conn = conn
        return conn

    # -- the writer ------------------------------------------------------------------
    def _write_loop(self) -> None:
        conn = self._connect(readonly=False)
        self._next_id = 0  # each batch takes the file's next id (_insert)
        self._load_dicts(conn)
        rows: list[ObsRow] = []
        try:
            while True:
                job = self._queue.get()
                try:
                    if isinstance(job, ObsRow | list):
                        if isinstance(job, list):
                            rows.extend(job)
                        else:
                            rows.append(job)
                        if len(rows) < BATCH_ROWS and not self._queue.empty():
                            continue
                    self._commit_rows(conn, rows)
                    if isinstance(job, _Stop):
                        return
                    if isinstance(job, _Call):
                        self._run_call(conn, job)
                    elif not isinstance(job, ObsRow | list):
                        self._in_transaction(conn, job)
                finally:
                    self._queue.task_done()
        finally:
            conn.close()

    def _in_transaction(self, conn: sqlite3.Connection,
                        job: Callable[[sqlite3.Connection], object]) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        try:
            job(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # keep the writer alive; surface on flush()
            conn.execute("ROLLBACK")
            self._error = exc
            return False
        return True

    @staticmethod
    def _run_call(conn: sqlite3.Connection, call: _Call) -> None:
        if call.transaction:
            conn.execute("BEGIN IMMEDIATE")
        try:
            result = call.fn(conn)
            if call.transaction:
                conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            call.done.set_exception(exc)
        else:
            call.done.set_result(result)

    def _commit_rows(self, conn: sqlite3.Connection, rows: list[ObsRow]) -> None:
        if rows:
            batch = list(rows)
            rows.clear()
            fresh: list[int] = []
            if self._in_transaction(conn, lambda c: fresh.append(self._insert(c, batch))):
                self._already += len(batch) - fresh[0]
            else:  # a dictionary trained in the batch went with it
                self._load_dicts(conn)

    def _load_dicts(self, conn: sqlite3.Connection) -> None:
        """The writer's dictionaries as the file holds them (at start, after a rollback)."""
        dicts = Dictionaries(self._fetch_dict)
        for dict_id, kind, data in conn.execute(
                "SELECT id, kind, data FROM zdicts ORDER BY id"):
            dicts.load(int(dict_id), str(kind), bytes(data))
        self._dicts = dicts

    def _fetch_dict(self, dict_id: int) -> bytes | None:
        row = self._execute("SELECT data FROM zdicts WHERE id = ?", [dict_id]).fetchone()
        return None if row is None else bytes(row[0])

    def _learn(self, conn: sqlite3.Connection, kind: str, values: list[bytes]) -> None:
        """Sample a kind's values until a dictionary can be trained, then train and keep
        it in the batch's transaction (a rollback takes it back: ``_load_dicts``). One
        another process writing to the file trained meanwhile is taken instead."""
        if not self._dicts.collect(kind, values):
            return
        row = conn.execute("SELECT id, data FROM zdicts WHERE kind = ? ORDER BY id DESC",
                           (kind,)).fetchone()
        if row is not None:
            self._dicts.load(int(row[0]), kind, bytes(row[1]))
            return
        (last,) = conn.execute("SELECT coalesce(max(id), ?) FROM zdicts",
                               (FIRST_ID,)).fetchone()
        dict_id = int(last) + 1
        data = self._dicts.train(kind, dict_id)
        if data is not None:
            conn.execute("INSERT INTO zdicts (id, kind, data, trained) VALUES (?, ?, ?, ?)",
                         (dict_id, kind, data, time.time()))
            self._dicts.load(dict_id, kind, data)

    def _insert(self, conn: sqlite3.Connection, rows: list[ObsRow]) -> int:
        """One batch: banners, rows, full text, and ``is_latest`` moved forward in time
        only (an older observation arriving late never hides a newer one). Returns how
        many of the rows were new."""
        dicts = self._dicts
        blobs = {r.blob_hash: r.banner for r in rows if r.blob_hash not in self._seen}
        if not dicts.trained("banner"):
            self._learn(conn, "banner", list(blobs.values()))
        if not dicts.trained("record"):
            self._learn(conn, "record", [r.record_text.encode() for r in rows])
        if not dicts.trained("facets"):
            self._learn(conn, "facets", [r.facets_text.encode() for r in rows])
        conn.executemany("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)",
                         [(h, pack_blob(banner, dicts)) for h, banner in blobs.items()])
        docs = {h: d for r in rows for h, d in r.shared.items() if h not in self._seen_docs}
        conn.executemany("INSERT OR IGNORE INTO docs (hash, doc) VALUES (?, ?)", docs.items())
        latest, stored = self._known(conn, rows)
        # ids from the file, not from memory: another process may write to it too
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM observations").fetchone()
        self._next_id = int(last) + 1
        winner: dict[tuple[bytes, int, str], tuple[int, float]] = {}
        demote: list[tuple[int, _Counted, str]] = []
        ids: list[int] = []
        fresh: list[ObsRow] = []
        for r in rows:
            key = (r.ip_bin, r.port, r.transport)
            if (*key, r.ts) in stored:
                continue  # the same observation sent again (a retried batch, a re-run)
            stored.add((*key, r.ts))
            fresh.append(r)
            oid = self._next_id
            self._next_id += 1
            ids.append(oid)
            best = winner.get(key)
            if best is None and key in latest:
                old_id, old_ts, old_values, old_record = latest[key]
                best = (old_id, old_ts)
                demote.append((old_id, old_values, old_record))
            if best is None or r.ts >= best[1]:
                winner[key] = (oid, r.ts)
            else:
                winner[key] = best
        latest_ids = {oid for oid, _ in winner.values()}
        numbered = list(zip(ids, fresh, strict=True))
        # one Counter over every pair: a single pass in C, not an update per row
        up: Counter[tuple[int, Any]] = Counter(chain.from_iterable(
            r.facets for oid, r in numbered if oid in latest_ids))
        demoted = [(old_id, old_record) for old_id, _, old_record in demote
                   if old_id not in latest_ids]
        down: Counter[tuple[int, Any]] = Counter(chain.from_iterable(
            load_pairs(old_pairs if isinstance(old_pairs, str) else dicts.unpack(old_pairs),
                       old_row)
            for old_id, (old_pairs, old_row), _ in demote
            if old_pairs is not None and old_id not in latest_ids))
        conn.executemany(
            "INSERT INTO observations (id, scan_id, ip, ip_bin, port, transport, ts, status,"
            " service, product, version, version_key, title, blob_hash, record, is_latest)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(oid, r.scan_id, r.ip, r.ip_bin, r.port, r.transport, r.ts, r.status, r.service,
              r.product, r.version, r.version_key, r.title, r.blob_hash,
              r.record_text if oid in latest_ids else pack_record(r.record_text, dicts),
              oid in latest_ids)
             for oid, r in numbered])
        conn.executemany("INSERT INTO latest_facets (id, pairs) VALUES (?, ?)",
                         [(oid, dicts.pack("facets", r.facets_text.encode()) or r.facets_text)
                          for oid, r in numbered if oid in latest_ids])
        # history is read whole or not at all, never searched: its records are packed
        conn.executemany("UPDATE observations SET is_latest = 0, record = ? WHERE id = ?",
                         [(pack_record(text, dicts), old_id) for old_id, text in demoted])
        conn.executemany("DELETE FROM latest_facets WHERE id = ?",
                         [(old_id,) for old_id, _ in demoted])
        totals.apply(conn, up, down)
        conn.executemany("INSERT INTO obs_fts (rowid, words) VALUES (?, ?)",
                         [(oid, r.words) for oid, r in numbered])
        _remember(self._seen, blobs, _SEEN_BLOBS)
        _remember(self._seen_docs, docs, _SEEN_BLOBS)
        return len(fresh)

    @staticmethod
    def _known(conn: sqlite3.Connection, rows: list[ObsRow]
               ) -> tuple[dict[tuple[bytes, int, str], tuple[int, float, _Counted, str]],
                          set[tuple[bytes, int, str, float]]]:
        """For the batch's endpoints, in one join (index seeks in C, not a query a row):
        each one's latest stored row (id, time, facet pairs, record), and which of the
        batch's observations are stored already."""
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS batch_keys"
                     " (ip_bin BLOB, port INTEGER, transport TEXT, ts REAL)")
        conn.execute("DELETE FROM batch_keys")
        conn.executemany("INSERT INTO batch_keys VALUES (?, ?, ?, ?)",
                         [(r.ip_bin, r.port, r.transport, r.ts) for r in rows])
        latest: dict[tuple[bytes, int, str], tuple[int, float, _Counted, str]] = {}
        stored: set[tuple[bytes, int, str, float]] = set()
        for (ip_bin, port, transport, ts, oid, ots, is_latest, record, values,
             *row) in conn.execute(
                "SELECT k.ip_bin, k.port, k.transport, k.ts, o.id, o.ts, o.is_latest,"
                f" CASE o.is_latest WHEN 1 THEN o.record END, f.pairs, {_ROW_FACET_COLUMNS}"
                " FROM batch_keys k JOIN observations o ON o.ip_bin = k.ip_bin"
                " AND o.port = k.port AND o.transport = k.transport"
                " AND (o.is_latest = 1 OR o.ts = k.ts)"
                " LEFT JOIN latest_facets f ON f.id = o.id AND o.is_latest = 1"):
            key = (ip_bin, port, transport)
            if is_latest:
                latest[key] = (int(oid), float(ots), (values, tuple(row)), record)
            if ots == ts:
                stored.add((*key, ts))
        return latest, stored

    def _submit(self, job: _Job) -> None:
        if not self._writer.is_alive():
            raise RuntimeError("store writer has stopped")
        self._queue.put(job)

    def _call(self, fn: Callable[[sqlite3.Connection], T], transaction: bool = True) -> T:
        """Run ``fn`` in the writer, in order with queued writes; wait until committed."""
        call = _Call(fn, Future(), transaction)
        self._submit(call)
        return call.done.result()

    def flush(self) -> None:
        """Block until every queued write is committed."""
        self._queue.join()
        if self._error is not None:
            err, self._error = self._error, None
            raise RuntimeError(f"store write failed: {err}") from err

    def already_stored(self) -> int:
        return self._already

    def close(self) -> None:
        if self._encoders is not None:
            self._encoders.close()
            self._encoders = None
        if self._writer.is_alive():
            self._queue.put(_Stop())
            self._writer.join()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes ----------------------------------------------------------------------
    def begin_scan(self, scan: Scan) -> None:
        row = scan_row(scan)
        self._submit(lambda c: c.execute(
            f"INSERT OR REPLACE INTO scans ({SCAN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", row))

    def update_scan(self, scan: Scan) -> None:
        _, _, finished, status, args, done, total, open_ports, observations = scan_row(scan)
        row = (finished, status, args, done, total, open_ports, observations, scan.id)
        self._submit(lambda c: c.execute(
            "UPDATE scans SET finished=?, status=?, args=?, done=?, total=?, open_ports=?,"
            " observations=? WHERE id=?", row))

    def add(self, obs: Observation) -> None:
        # encoded here, in the caller's thread: the writer's SQLite work (which lets go
        # of the GIL) overlaps the next observation's encoding
        self._submit(encode(obs))

    def add_many(self, observations: Iterable[Observation]) -> None:
        # many: encoded by worker processes beside the writer (store/encoding.py)
        rows = bulk(observations, encode, self._bulk_encoders)
        while chunk := list(islice(rows, CHUNK_ROWS)):
            self._submit(chunk)

    def _bulk_encoders(self) -> Encoders[ObsRow]:
        if self._encoders is None:
            self._encoders = Encoders(encode)
        return self._encoders

    # -- reads -----------------------------------------------------------------------
    def _execute(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run a read with a time limit (reset per batch by streaming readers)."""
        conn = self._reader()
        self._local.deadline = time.monotonic() + QUERY_TIME_LIMIT
        conn.set_progress_handler(
            lambda: int(time.monotonic() > self._local.deadline), 10_000
        )
        try:
            return conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise TimeoutError(f"query took longer than {QUERY_TIME_LIMIT:.0f}s") from exc
            raise

    def _record(self, row: tuple[Any, ...]) -> dict[str, Any]:
        return publish(unpack_record(row[2], self._dicts), row[4:],
                       unpack_blob(row[3], self._dicts), self._doc)

    def _doc(self, ref: str) -> Any:
        """A shared value by its hash, decoded once and kept (it never changes)."""
        with self._docs_lock:
            if ref in self._docs:
                self._docs.move_to_end(ref)
                return self._docs[ref]
        row = self._execute("SELECT doc FROM docs WHERE hash = ?", [ref]).fetchone()
        value = load_record(row[0]) if row else None
        with self._docs_lock:
            self._docs[ref] = value
            while len(self._docs) > _DOC_CACHE:
                self._docs.popitem(last=False)
        return value

    def _where(self, query: str | Query) -> tuple[str, list[Any]]:
        parsed = parse(query) if isinstance(query, str) else query
        where = compile_where(parsed, self._frequent)
        return where.sql, list(where.params)

    def _frequent(self, fts_query: str) -> bool:
        """Does a phrase match at least FTS_FREQUENT stored rows? (A bounded walk of
        its index entries: milliseconds.) Frequent phrases are checked row by row along
        the newest rows; rare ones are looked up match by match."""
        (n,) = self._execute(
            "SELECT count(*) FROM (SELECT 1 FROM obs_fts WHERE obs_fts MATCH ? LIMIT ?)",
            [fts_query, FTS_FREQUENT]).fetchone()
        return int(n) >= FTS_FREQUENT

    def _newest(self, sql: str, params: list[Any], limit: int, offset: int = 0
                ) -> list[tuple[Any, ...]]:
        """The newest matching rows: ids are picked (and sorted) first, on the indexes
        alone; records and banners are read for the page's rows only."""
        return self._execute(
            f"{_SELECT} JOIN (SELECT o.id FROM observations o WHERE o.is_latest = 1 AND {sql}"
            " ORDER BY o.ts DESC, o.id DESC LIMIT ? OFFSET ?) AS p ON p.id = o.id"
            " ORDER BY o.ts DESC, o.id DESC", [*params, limit, offset]).fetchall()

    def search(self, query: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        sql, params = self._where(query)
        return [self._record(r) for r in self._newest(sql, params, limit, offset)]

    def page(self, query: str, limit: int = 100, after: str | None = None) -> Page:
        sql, params = self._where(query)
        if after is not None:
            ts, oid = cursor.decode(query, after)
            sql = f"({sql}) AND (o.ts, o.id) < (?, ?)"
            params += [ts, oid]
        rows = self._newest(sql, params, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = cursor.encode(query, rows[-1][1], rows[-1][0]) if more and rows else None
        return Page([self._record(r) for r in rows], nxt)

    def iter_search(self, query: str) -> Iterator[dict[str, Any]]:
        sql, params = self._where(query)
        cur = self._execute(
            f"{_SELECT} WHERE o.is_latest = 1 AND {sql} ORDER BY o.ip_bin, o.port", params)
        while True:
            # an export may stream for minutes: the time limit bounds each batch
            self._local.deadline = time.monotonic() + QUERY_TIME_LIMIT
            rows = cur.fetchmany(500)
            if not rows:
                return
            for r in rows:
                yield self._record(r)

    def count(self, query: str) -> int:
        """How many latest rows match: from the running totals when every term tests one
        column they count (``service:http``), else by counting the rows."""
        parsed = parse(query)
        sql, params = self._where(parsed)
        column = counted_column(parsed)
        if column is not None:
            return totals.count(self._reader(), column, sql, params)
        cur = self._execute(
            f"SELECT count(*) FROM observations o WHERE o.is_latest = 1 AND {sql}", params)
        return int(cur.fetchone()[0])

    def facets(self, query: str, names: list[str], size: int = 10) -> FacetCounts:
        """The top ``size`` values of each facet over what ``query`` matches: exact up to
        FACET_EXACT_MAX matching rows; above, counted over every m-th row (by id, the
        same rows every time) and scaled up, and the result says it is approximate."""
        parsed = parse(query)
        facets = [facet_sql(name) for name in names]  # unknown names fail first
        out = FacetCounts()
        if parsed.root is None and all(f.name in COUNTED for f in facets):
            # everything: the writer's running totals, exact, whatever the store's size
            conn = self._reader()
            for name, facet in zip(names, facets, strict=True):
                nocase = facet_field(facet.name).facet_nocase
                out[name] = totals.top(conn, facet.name, nocase, size)
            return out
        sql, params = self._where(parsed)
        step = 1
        if facets:
            matched = self.count(query)
            if matched > FACET_EXACT_MAX:
                step = -(-matched // FACET_SAMPLE_ROWS)
                sql, params = f"({sql}) AND o.id % ? = 0", [*params, step]
                out.approximate = True
        for name, facet in zip(names, facets, strict=True):
            join = f", {facet.join}" if facet.join else ""
            cur = self._execute(
                f"SELECT {facet.expr} AS value, count(*) AS n FROM observations o{join}"
                f" WHERE o.is_latest = 1 AND ({sql}) AND {facet.present or facet.expr} IS NOT NULL"
                f" GROUP BY {facet.group} ORDER BY n DESC, value LIMIT ?",
                [*params, size])
            out[name] = [FacetValue(v, n * step) for v, n in cur.fetchall()]
        return out

    def host(self, ip: str, history: bool = True) -> list[dict[str, Any]]:
        """Every observation of one host, newest first (only the latest per port
        unless ``history``)."""
        latest = "" if history else " AND o.is_latest = 1"
        cur = self._execute(f"{_SELECT} WHERE o.ip_bin = ?{latest}"
                            " ORDER BY o.ts DESC, o.id DESC", [ip_to_bin(ip)])
        return [self._record(r) for r in cur.fetchall()]

    def get_scan(self, scan_id: str) -> Scan | None:
        row = self._execute(f"SELECT {SCAN_COLUMNS} FROM scans WHERE id = ?",
                            [scan_id]).fetchone()
        return scan_from_row(row) if row else None

    def scans(self) -> list[Scan]:
        cur = self._execute(f"SELECT {SCAN_COLUMNS} FROM scans ORDER BY started DESC")
        return [scan_from_row(r) for r in cur.fetchall()]

    # -- API keys ------------------------------------------------------------------------
    def create_key(self, role: str, name: str = "", rate: float | None = None,
                   burst: int | None = None) -> tuple[str, ApiKey]:
        """Make a key; returns (secret, record). Only the secret's SHA-256 is kept."""
        secret, row = new_key(role, name, rate, burst)
        self.import_keys([row])
        return secret, row.key

    def import_keys(self, rows: Iterable[KeyRow]) -> None:
        values = [(r.key.id, r.hash, r.key.role, r.key.name, r.key.created, r.key.revoked,
                   r.key.rate, r.key.burst) for r in rows]
        self._call(lambda c: c.executemany(
            "INSERT OR REPLACE INTO api_keys (id, hash, role, name, created, revoked, rate,"
            " burst) VALUES (?,?,?,?,?,?,?,?)", values))

    def verify_key(self, secret: str) -> ApiKey | None:
        if not secret or len(secret) > 256:
            return None
        row = self._execute(
            "SELECT id, role, name, created, revoked, rate, burst FROM api_keys"
            " WHERE hash = ? AND revoked IS NULL", [hash_key(secret)]).fetchone()
        return ApiKey(*row) if row else None

    def list_keys(self) -> list[ApiKey]:
        return [r.key for r in self.key_rows()]

    def key_rows(self) -> list[KeyRow]:
        cur = self._execute("SELECT id, role, name, created, revoked, rate, burst, hash"
                            " FROM api_keys ORDER BY created, id")
        return [KeyRow(ApiKey(*r[:7]), r[7]) for r in cur.fetchall()]

    def revoke_key(self, key_id: str) -> bool:
        return self._call(lambda c: c.execute(
            "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
            (time.time(), key_id)).rowcount > 0)

    # -- the CVE feed ----------------------------------------------------------------------
    def cve_import(self, entries: Iterable[CveEntry]) -> int:
        """Load CVEs in one transaction (all of ``entries`` or, if reading them raises,
        none), taken from the iterable in batches as it yields them; a CVE imported
        again replaces its old rows (listed twice in one batch: the last one wins)."""

        def write(c: sqlite3.Connection) -> int:
            n = 0
            it = iter(entries)
            c.execute(f"PRAGMA cache_size=-{CVE_IMPORT_CACHE_KB}")
            try:
                while chunk := list(islice(it, CVE_IMPORT_BATCH)):
                    n += len(chunk)
                    last = {e.id: e for e in chunk}
                    c.executemany("DELETE FROM cve_cpe WHERE cve_id = ?", [(k,) for k in last])
                    c.executemany(
                        "INSERT OR REPLACE INTO cve (id, cvss, severity, summary, published,"
                        " modified) VALUES (?,?,?,?,?,?)",
                        [(e.id, e.cvss, e.severity, e.summary, e.published, e.modified)
                         for e in last.values()])
                    c.executemany(
                        f"INSERT INTO cve_cpe (cve_id, {_CVE_RANGE})"
                        " VALUES (?,?,?,?,?,?,?,?,?,?)",
                        [(e.id, r.part, r.vendor, r.product, r.version, r.start_incl,
                          r.start_excl, r.end_incl, r.end_excl, r.criteria)
                         for e in last.values() for r in e.ranges])
            finally:
                c.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KB}")
            return n

        return self._call(write)

    def cve_count(self) -> int:
        return int(self._execute("SELECT count(*) FROM cve").fetchone()[0])

    def cve_candidates(self, part: str, product: str,
                       vendors: tuple[str, ...]) -> list[CveCandidate]:
        marks = ",".join("?" * len(vendors))
        cur = self._execute(
            f"SELECT m.cve_id, c.cvss, c.severity, c.summary, {_CVE_RANGE} FROM cve_cpe m"
            " JOIN cve c ON c.id = m.cve_id"
            f" WHERE m.product = ? AND m.part = ? AND m.vendor IN ({marks})"
            " ORDER BY m.cve_id, m.rowid", [product, part, *vendors])
        return [CveCandidate(r[0], r[1], r[2], r[3] or "", CveRange(*r[4:]))
                for r in cur.fetchall()]

    def cve_entries(self) -> Iterator[CveEntry]:
        ranges: dict[str, list[CveRange]] = {}
        for r in self._execute(f"SELECT cve_id, {_CVE_RANGE} FROM cve_cpe ORDER BY rowid"):
            ranges.setdefault(r[0], []).append(CveRange(*r[1:]))
        cur = self._execute(
            "SELECT id, cvss, severity, summary, published, modified FROM cve ORDER BY id")
        for r in cur.fetchall():
            yield CveEntry(r[0], r[1], r[2], r[3] or "", r[4], r[5], ranges.get(r[0], []))

    # -- schema, meta, moving a store --------------------------------------------------------
    def schema_version(self) -> int:
        row = self._execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        return int(row[0])

    def migrate(self) -> list[str]:
        """Migrations run when the store opens; this says which ones that was."""
        return list(self.applied)

    def compact(self, full: bool = False) -> None:
        """Pack what was stored unpacked (history records, latest rows' facet pairs and
        banners from before the store had dictionaries, or from a version without them;
        dictpack.py), a few thousand rows a transaction; rebuild the full-text index
        over the latest rows alone; then VACUUM, in the writer after what is queued:
        the file rebuilt without the free pages and half-empty pages rescans leave
        (SQLite has no lighter way: ``full`` changes nothing here), and the WAL emptied
        and cut back. Readers go on reading; writes wait between the steps. bench
        History, 200k observations: 1,154 -> 564 bytes an observation in ~2 s."""
        self._call(self._train_from_file)
        after: Any = 0
        while (after := self._call(functools.partial(self._repack_records, after=after))
               ) is not None:
            pass
        after = 0
        while (after := self._call(functools.partial(self._repack_facets, after=after))
               ) is not None:
            pass
        after = b""
        while (after := self._call(functools.partial(self._repack_banners, after=after))
               ) is not None:
            pass
        self._call(self._reindex_text)

        def vacuum(conn: sqlite3.Connection) -> None:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        self._call(vacuum, transaction=False)
        self.flush()

    def _train_from_file(self, conn: sqlite3.Connection) -> None:
        """Dictionaries from what the file holds, for a kind that has none yet."""
        if not self._dicts.trained("record"):
            self._learn(conn, "record", [str(t).encode() for (t,) in conn.execute(
                "SELECT record FROM observations WHERE typeof(record) = 'text'"
                " ORDER BY id DESC LIMIT ?", (TRAIN_MAX,))])
        if not self._dicts.trained("banner"):
            self._learn(conn, "banner", [unpack_blob(d, self._dicts) for (d,) in conn.execute(
                "SELECT data FROM blobs LIMIT ?", (TRAIN_MAX,))])
        if not self._dicts.trained("facets"):
            self._learn(conn, "facets", [str(t).encode() for (t,) in conn.execute(
                "SELECT pairs FROM latest_facets WHERE typeof(pairs) = 'text' LIMIT ?",
                (TRAIN_MAX,))])

    def _repack_records(self, conn: sqlite3.Connection, after: int) -> int | None:
        """History records after id ``after`` packed; the last id seen, None at the end."""
        rows = conn.execute("SELECT id, record FROM observations WHERE id > ?"
                            " ORDER BY id LIMIT ?", (after, REPACK_ROWS)).fetchall()
        conn.executemany(
            "UPDATE observations SET record = ? WHERE id = ? AND is_latest = 0",
            [(packed, oid) for oid, text in rows
             if isinstance(text, str) and not isinstance(
                 packed := pack_record(text, self._dicts), str)])
        return int(rows[-1][0]) if rows else None

    def _reindex_text(self, conn: sqlite3.Connection) -> None:
        """The full-text index rebuilt over the latest rows alone, in one transaction
        (readers see the old one until it commits). Every row is indexed while it is the
        newest (the words of a row that became history cannot be taken out of a
        contentless index without them), and no search reads history: at 200k
        observations with rescans, two thirds of the index."""
        conn.execute("INSERT INTO obs_fts (obs_fts) VALUES ('delete-all')")
        rows = conn.execute("SELECT o.id, b.data, o.title, o.product FROM observations o"
                            " JOIN blobs b ON b.hash = o.blob_hash WHERE o.is_latest = 1")
        while chunk := rows.fetchmany(REPACK_ROWS):
            conn.executemany("INSERT INTO obs_fts (rowid, words) VALUES (?, ?)", [
                (oid, index_words(banner_text(unpack_blob(data, self._dicts)), title, product))
                for oid, data, title, product in chunk])

    def _repack_facets(self, conn: sqlite3.Connection, after: int) -> int | None:
        """Latest rows' facet pairs after id ``after`` packed; None at the end."""
        rows = conn.execute("SELECT id, pairs FROM latest_facets WHERE id > ?"
                            " ORDER BY id LIMIT ?", (after, REPACK_ROWS)).fetchall()
        conn.executemany("UPDATE latest_facets SET pairs = ? WHERE id = ?", [
            (packed, oid) for oid, text in rows if isinstance(text, str)
            and (packed := self._dicts.pack("facets", text.encode())) is not None])
        return int(rows[-1][0]) if rows else None

    def _repack_banners(self, conn: sqlite3.Connection, after: bytes) -> bytes | None:
        """Banners after hash ``after`` packed against the dictionary; None at the end."""
        rows = conn.execute("SELECT hash, data FROM blobs WHERE hash > ? ORDER BY hash"
                            " LIMIT ?", (after, REPACK_ROWS)).fetchall()
        updates = []
        for h, data in rows:
            if bytes(data[:1]) != ZSTD:
                packed = self._dicts.pack("banner", unpack_blob(data, self._dicts))
                if packed is not None and len(packed) < len(data):
                    updates.append((packed, h))
        conn.executemany("UPDATE blobs SET data = ? WHERE hash = ?", updates)
        return bytes(rows[-1][0]) if rows else None

    def export_all(self, after_id: int = 0) -> Iterator[tuple[int, Observation]]:
        """Every observation, history included, in id order from ``after_id``."""
        while True:
            rows = self._execute(f"{_SELECT} WHERE o.id > ? ORDER BY o.id LIMIT 1000",
                                 [after_id]).fetchall()
            if not rows:
                return
            for r in rows:
                data = unpack_blob(r[3], self._dicts)
                yield int(r[0]), Observation.from_record(self._record(r), data)
            after_id = int(rows[-1][0])

    def meta_get(self, key: str) -> str | None:
        row = self._execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def meta_set(self, key: str, value: str) -> None:
        self._call(lambda c: c.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)))

    def disk_bytes(self) -> int:
        return sum(os.path.getsize(p) for p in (self.path, self.path + "-wal")
                   if os.path.exists(p))
