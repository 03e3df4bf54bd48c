"""The one writer of a PostgreSQL store: observations and scan updates, in queue order.

Items are taken off a bounded queue into batches (up to ``BATCH_ROWS`` observations, or
whatever arrived before the queue went idle). A batch is one transaction: COPY into
temporary staging tables, then set-based inserts (banners and shared documents once,
observations, each endpoint's row in ``latest`` replaced only by a newer one) and the
batch's scan updates, in order — so a scan's watermark is never committed before the
observations queued ahead of it, and a crash leaves the whole batch or none of it.

PostgreSQL going away does not lose or double a record: the writer keeps the batch,
says so on stderr once, retries with back-off (taking further items off the queue into
memory meanwhile, so the scanner keeps going), and re-sends the batch when the server
is back. A batch that did commit before the connection broke is not doubled: a row
whose endpoint and time are already stored is skipped (``obs_endpoint`` is unique), and
scan writes are idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from netatlas.model import Observation, pickled_by_fields
from netatlas.store.base import StoreUnavailable
from netatlas.store.dictpack import Dictionaries
from netatlas.store.rows import ObsRow, pack_blob, record_json, to_row

from .inet import stored_form
from .packdoc import pack_doc
from .pgtext import pg_json, pg_text
from .schema import one_row
from .totals import DELTA_CTES, TOTALED

log = logging.getLogger(__name__)

BATCH_ROWS = 5_000
QUEUE_MAX = 10_000  # items; add() blocks only when this many wait (back-pressure)
IDLE = 0.02  # seconds without a new item: the batch so far is written
HOLD_MAX = 100_000  # items held in memory while PostgreSQL is away
RETRY_LIMIT = 600.0  # seconds of outage after which a batch is given up (and reported)
BACKOFF_MAX = 10.0
KNOWN_BLOBS = 100_000  # blob hashes known committed: their bytes are not sent again
KNOWN_DOCS = 100_000  # the same for shared documents
ANALYZE_MIN = 20_000  # observations written between two ANALYZEs, at least
WRITE_LOCK = 0x6E61_7461_7772_6974  # pg_advisory_xact_lock key: one batch at a time
# A server that vanishes without closing the socket (network gone, host down) is noticed
# in seconds, not after TCP's quarter of an hour of retransmissions.
_CONNECT_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
    "keepalives_count": 3, "tcp_user_timeout": 30_000,
}


def connect_options(url: str) -> dict[str, Any]:
    """Connection settings for ``url``: ours, where the URL does not set its own."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        given = {}
    return {k: v for k, v in _CONNECT_DEFAULTS.items() if k not in given}


def server_address(url: str) -> str:
    """``host:port`` of the server a URL names, for messages."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "?"
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"


def reason(exc: BaseException) -> str:
    """The first line of an error, for a one-line message."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS stage (
  seq integer, ip inet, port integer, transport text, ts double precision, scan_id text,
  status text, service text, product text, version text, version_key bytea, title text,
  ip_text text, blob_hash bytea, record text, words text, doc bytea
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_blobs (hash bytea, data bytea) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_docs (hash text, doc text, raw text)
  ON COMMIT DELETE ROWS;
"""
_COPY_ROWS = ("COPY stage (seq, ip, port, transport, ts, scan_id, status, service, product,"
              " version, version_key, title, ip_text, blob_hash, record, words, doc)"
              " FROM STDIN")
_COPY_BLOBS = "COPY stage_blobs (hash, data) FROM STDIN"
_COPY_DOCS = "COPY stage_docs (hash, doc, raw) FROM STDIN"
_INSERT_BLOBS = ("INSERT INTO blobs (hash, data) SELECT hash, data FROM stage_blobs"
                 " ON CONFLICT (hash) DO NOTHING")
_INSERT_DOCS = ("INSERT INTO docs (hash, doc, raw) SELECT hash, doc::jsonb, raw FROM stage_docs"
                " ON CONFLICT (hash) DO NOTHING")
# The same observation (endpoint and time) sent again is stored once, as SQLite does:
# drop staged rows already stored or staged earlier in the batch.
_DEDUPE = ("""
DELETE FROM stage s USING stage t
 WHERE t.ip = s.ip AND t.port = s.port AND t.transport = s.transport AND t.ts = s.ts
   AND t.seq < s.seq
""", """
DELETE FROM stage s USING observations o
 WHERE o.ip = s.ip AND o.port = s.port AND o.transport = s.transport AND o.ts = s.ts
""")
_TOTALED_L = ", ".join(f"l.{c}" for c in TOTALED)
# Every staged row joins the history; the newest staged row per endpoint replaces the
# endpoint's row in `latest` if it is newer. No two rows of an endpoint share a time
# (_DEDUPE).
_INSERT_ROWS = """
WITH ins AS (
  INSERT INTO observations (ts, port, ip, transport, scan_id, status, service, product,
                            version, ip_text, blob_hash, doc)
  SELECT ts, port, ip, transport, scan_id, status, service, product, version, ip_text,
         blob_hash, doc
  FROM stage ORDER BY seq
  RETURNING id, ip, port, transport, ts
), win AS (
  SELECT DISTINCT ON (ip, port, transport) id, ip, port, transport, ts
  FROM ins ORDER BY ip, port, transport, ts DESC
), old AS (
  -- the rows `moved` replaces, as they were (the statement's snapshot): their column
  -- totals count down
  SELECT """ + _TOTALED_L + """ FROM latest l JOIN win w
    ON l.ip = w.ip AND l.port = w.port AND l.transport = w.transport AND l.ts <= w.ts
), moved AS (
  INSERT INTO latest AS l (ip, port, transport, ts, id, scan_id, status, service, product,
                           version, version_key, title, ip_text, record, fts)
  SELECT w.ip, w.port, w.transport, w.ts, w.id, s.scan_id, s.status, s.service, s.product,
         s.version, s.version_key, s.title, s.ip_text, s.record::jsonb,
         to_tsvector('simple', s.words)
  FROM win w JOIN stage s
    ON s.ip = w.ip AND s.port = w.port AND s.transport = w.transport AND s.ts = w.ts
  ON CONFLICT (ip, port, transport) DO UPDATE SET
    ts = excluded.ts, id = excluded.id, scan_id = excluded.scan_id,
    status = excluded.status, service = excluded.service, product = excluded.product,
    version = excluded.version, version_key = excluded.version_key,
    title = excluded.title, ip_text = excluded.ip_text, record = excluded.record,
    fts = excluded.fts
  WHERE l.ts <= excluded.ts
  RETURNING """ + _TOTALED_L + """
),""" + DELTA_CTES + """
SELECT count(*) FROM ins
"""


@dataclass(frozen=True, slots=True)
class ScanWrite:
    """A statement on the scans table, applied in queue order with the observations."""

    sql: str
    params: tuple[Any, ...]


class _Stop:
    pass


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Staged:
    """An observation as COPY rows it, encoded by the thread that added it (so the
    writer's time goes to PostgreSQL, and encoding overlaps the previous batch)."""

    values: tuple[Any, ...]  # the stage columns after ``seq``, but ``doc``
    doc: str  # the stored record's JSON: the writer packs it (packdoc) as ``doc``
    blob_hash: bytes
    banner: bytes  # the banner's bytes: the writer packs the new ones (rows.pack_blob)
    shared: dict[str, str]  # hash -> JSON of the shared values the record names


Item = Staged | ScanWrite | _Stop
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def _text(value: str | None) -> str | None:
    return None if value is None else pg_text(value)


def _ip_text(written: str, stored: str) -> str | None:
    """The address as written, when ``host(ip)`` would not give it back: IPv4 in dotted
    quads comes back as written; IPv6 is kept (PostgreSQL and Python may spell one
    address differently)."""
    return None if written == stored and ":" not in written else written


def encode(obs: Observation) -> Staged:
    """An observation as this backend's writer takes it (module-level: encoding
    workers run it, store/encoding.py)."""
    return stage(to_row(obs, facets=False))


def stage(row: ObsRow) -> Staged:
    """The COPY row of an observation. Columns hold text as PostgreSQL can (U+FFFD for
    NUL); when that changed a hot value, the stored record carries the exact one too
    (``rows.publish`` lets it win), so the record comes back as it went in."""
    doc = row.record_text  # valid UTF-8 JSON (rows.record_json): text holds it as is
    exact = {k: v for k, v in (("scan_id", row.scan_id), ("status", row.status),
                               ("service", row.service), ("product", row.product),
                               ("version", row.version))
             if v is not None and pg_text(v) is not v}
    if exact:
        doc = record_json({**row.record, **exact})
    record = pg_json(doc)
    ip = stored_form(row.ip)
    return Staged((ip, row.port, row.transport, row.ts, _text(row.scan_id),
                   _text(row.status), _text(row.service), _text(row.product), _text(row.version),
                   row.version_key, _text(row.title), _ip_text(row.ip, ip),
                   row.blob_hash, record, row.words),
                  doc, row.blob_hash, row.banner, row.shared)


def _remember(known: OrderedDict[Any, None], keys: Any, limit: int) -> None:
    """Keys known to be committed, newest last, at most ``limit``."""
    for key in keys:
        known[key] = None
        known.move_to_end(key)
    while len(known) > limit:
        known.popitem(last=False)


class Writer:
    def __init__(self, url: str, retry_limit: float = RETRY_LIMIT,
                 batch_rows: int = BATCH_ROWS) -> None:
        self._url = url
        self._options = connect_options(url)
        self._where = server_address(url)  # for messages
        self._retry_limit = retry_limit
        self._batch_rows = batch_rows
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=QUEUE_MAX)
        self._held: deque[Item] = deque()  # taken off the queue while the server was away
        self._conn: psycopg.Connection | None = None
        self._known: OrderedDict[bytes, None] = OrderedDict()
        self._known_docs: OrderedDict[str, None] = OrderedDict()
        self._written = 0  # observations this writer committed
        self.already = 0  # observations it was sent that were stored already
        self._unanalyzed = 0  # of which since its last ANALYZE
        self._error: BaseException | None = None
        self._outage: float | None = None  # when the current outage began
        # as the database holds them; None: read them again (at the next transaction:
        # one trained in a batch that rolled back is gone with it)
        self._dicts: Dictionaries | None = None
        self._thread = threading.Thread(target=self._run, name="netatlas-pg-writer",
                                        daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------
    def put(self, item: Staged | ScanWrite) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("store writer has stopped")
        self._queue.put(item)

    def flush(self) -> None:
        """Block until every item queued so far is committed (or given up)."""
        done = self._queue.all_tasks_done
        with done:  # Queue.join(), but not forever if the writer thread died
            while self._queue.unfinished_tasks and self._thread.is_alive():
                done.wait(0.5)
        if self._error is None and not self._thread.is_alive() and self._queue.unfinished_tasks:
            self._error = RuntimeError("store writer has stopped")
        if self._error is not None:
            err, self._error = self._error, None
            if isinstance(err, StoreUnavailable):
                raise err
            raise RuntimeError(f"store write failed: {err}") from err

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_Stop())
            self._thread.join()

    # -- the writer thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug, not PostgreSQL: flush() reports it
            log.exception("store writer stopped")
            self._error = exc
        finally:
            self._disconnect()

    def _loop(self) -> None:
        while True:
            batch, stop = self._collect()
            if batch:
                self._write(batch)
                for _ in batch:
                    self._queue.task_done()
            if stop:
                self._queue.task_done()
                return

    def _take(self, timeout: float | None) -> Item | None:
        if self._held:
            return self._held.popleft()
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _collect(self) -> tuple[list[Staged | ScanWrite], bool]:
        """The next batch, and whether the stop came right after it."""
        batch: list[Staged | ScanWrite] = []
        rows = 0
        item = self._take(None)
        while item is not None:
            if isinstance(item, _Stop):
                return batch, True
            batch.append(item)
            rows += isinstance(item, Staged)
            if rows >= self._batch_rows:
                break
            item = self._take(IDLE)
        return batch, False

    def _write(self, items: Sequence[Staged | ScanWrite]) -> None:
        """Commit ``items`` as one batch; when the data (not the connection) is at fault,
        halve it to commit every good item and report the bad one."""
        delay = 0.5
        fresh = self._conn is None
        while True:
            try:
                self._transaction(items)
            except _CONNECTION_ERRORS as exc:
                self._disconnect()
                if not fresh:  # a connection gone stale while idle: once more, at once
                    fresh = True
                    continue
                if self._outage is None:
                    self._outage = time.monotonic()
                    held = sum(isinstance(i, Staged) for i in (*items, *self._held))
                    self._say(f"unreachable ({reason(exc)}); holding {held} records,"
                              " retrying")
                if time.monotonic() - self._outage > self._retry_limit:
                    self._error = StoreUnavailable(
                        f"PostgreSQL at {self._where} unreachable for more than "
                        f"{self._retry_limit:.0f}s ({reason(exc)}); {len(items)} records"
                        " were not stored")
                    self._say(f"still unreachable; giving up {len(items)} records")
                    self._outage = None
                    return
                self._wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            except Exception as exc:
                self._rollback()
                if len(items) == 1:
                    log.error("store write failed: %s", exc)
                    self._error = exc
                    return
                half = len(items) // 2
                self._write(items[:half])
                self._write(items[half:])
                return
            if self._outage is not None:
                self._say(f"reachable again; writing {len(self._held)} held records")
                self._outage = None
            return

    def _transaction(self, items: Sequence[Staged | ScanWrite]) -> None:
        conn = self._connect()
        rows = [i for i in items if isinstance(i, Staged)]
        fresh_blobs: dict[bytes, bytes] = {}
        fresh_docs: dict[str, str] = {}
        with conn.cursor() as cur:
            if rows:
                dicts = self._learn(cur, rows)
                with cur.copy(_COPY_ROWS) as copy:
                    for seq, row in enumerate(rows):
                        copy.write_row((seq, *row.values, pack_doc(row.doc, dicts)))
                        if row.blob_hash not in self._known and row.blob_hash not in fresh_blobs:
                            fresh_blobs[row.blob_hash] = pack_blob(row.banner, dicts)
                        for h, doc in row.shared.items():
                            if h not in self._known_docs:
                                fresh_docs.setdefault(h, doc)
                if fresh_blobs:
                    with cur.copy(_COPY_BLOBS) as copy:
                        for blob_hash, packed in fresh_blobs.items():
                            copy.write_row((blob_hash, packed))
                if fresh_docs:
                    with cur.copy(_COPY_DOCS) as copy:
                        for h, doc in fresh_docs.items():
                            copy.write_row((h, pg_json(doc), doc))
                # other processes may write to the same database: one batch at a time,
                # so `latest` is read and moved by one of them only
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                # planned afresh each time: a plan cached while the table was small
                # would scan it whole once it holds millions of rows
                dropped = 0
                for dedupe in _DEDUPE:
                    cur.execute(dedupe, prepare=False)
                    dropped += max(cur.rowcount, 0)
                cur.execute(_INSERT_BLOBS, prepare=False)
                if fresh_docs:
                    cur.execute(_INSERT_DOCS, prepare=False)
                cur.execute(_INSERT_ROWS, prepare=False)
            for item in items:
                if isinstance(item, ScanWrite):
                    cur.execute(item.sql, item.params)
        conn.commit()
        if rows:
            self.already += dropped
        _remember(self._known, fresh_blobs, KNOWN_BLOBS)
        _remember(self._known_docs, fresh_docs, KNOWN_DOCS)
        self._analyze_after(len(rows))

    def _analyze_after(self, written: int) -> None:
        """Once the tables doubled since the last time (at least ANALYZE_MIN rows):
        VACUUM (ANALYZE) ``latest`` — rows rewritten by newer observations leave dead
        versions whose space (and index entries) only a vacuum makes reusable, and plans
        chosen on a small table's statistics would scan the big one — and ANALYZE the
        rest. After the batch's commit, outside any transaction; a failure only skips it
        (autovacuum does the same, later). When nothing more is waiting (the end of an
        import, a pause in a scan), already once they grew by an eighth: left to
        autovacuum, the last half of a 1M import was read for a minute without a
        visibility map (count service:http 300 ms, then 20 ms once vacuumed)."""
        self._written += written
        self._unanalyzed += written
        idle = self._queue.empty() and not self._held
        if self._unanalyzed < max(ANALYZE_MIN, self._written // (8 if idle else 2)):
            return
        conn = self._conn
        if conn is None:
            return
        try:
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) latest")
            conn.execute("ANALYZE observations, docs")
            self._unanalyzed = 0
        except psycopg.Error as exc:
            log.warning("VACUUM / ANALYZE after a batch failed: %s", exc)
            self._disconnect()
            return
        with contextlib.suppress(psycopg.Error):
            conn.autocommit = False

    def _wait(self, seconds: float) -> None:
        """Sleep before a retry, taking items off the queue meanwhile (up to HOLD_MAX)
        so that whoever feeds the store is not held up by the outage."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if len(self._held) < HOLD_MAX:
                with contextlib.suppress(queue.Empty):
                    self._held.append(self._queue.get(timeout=min(left, 0.1)))
            else:
                time.sleep(min(left, 0.1))

    # -- the connection ------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._url, **self._options)
            conn.execute(_STAGE)
            conn.commit()
            self._conn = conn
        return self._conn

    def _learn(self, cur: psycopg.Cursor[Any], rows: list[Staged]) -> Dictionaries:
        """The dictionaries to pack the batch with: the database's, and for a kind
        without one, one trained once enough of its values went by (kept in the
        batch's transaction; another writer's, if one trained meanwhile)."""
        if self._dicts is None:
            self._dicts = Dictionaries(lambda _: None)
            for dict_id, kind, data in cur.execute(
                    "SELECT id, kind, data FROM zdicts ORDER BY id").fetchall():
                self._dicts.load(dict_id, kind, bytes(data))
        dicts = self._dicts
        for kind, values in (("banner", lambda: [r.banner for r in rows
                                                 if r.blob_hash not in self._known]),
                             ("record", lambda: [r.doc.encode() for r in rows])):
            if dicts.trained(kind) or not dicts.collect(kind, values()):
                continue
            theirs = cur.execute("SELECT id, data FROM zdicts WHERE kind = %s"
                                 " ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
            if theirs is not None:
                dicts.load(theirs[0], kind, bytes(theirs[1]))
                continue
            dict_id = int(one_row(cur.execute("SELECT nextval('zdicts_id')"))[0])
            data = dicts.train(kind, dict_id)
            if data is not None:
                cur.execute("INSERT INTO zdicts (id, kind, data, trained)"
                            " VALUES (%s, %s, %s, %s)", (dict_id, kind, data, time.time()))
                dicts.load(dict_id, kind, data)
        return dicts

    def _rollback(self) -> None:
        self._dicts = None
        if self._conn is not None:
            try:
                self._conn.rollback()
            except psycopg.Error:
                self._disconnect()

    def _disconnect(self) -> None:
        self._dicts = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _say(self, message: str) -> None:
        print(f"netatlas: PostgreSQL at {self._where} {message}", file=sys.stderr, flush=True)

