"""The SQLite schema as numbered migrations, applied in order when a store opens.

A file made by any earlier netatlas opens under this one: each migration runs once,
in its own transaction, and is recorded in ``schema_migrations``. Files from before
migrations were numbered (no such table) start at version 0; migration 1 is written
so that it is a no-op on them apart from what they lack.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from netatlas.model import banner_text
from netatlas.query.versions import version_sort_key
from netatlas.store.facetkeys import pairs_json, pairs_of
from netatlas.store.monitors import tables_sql
from netatlas.store.rows import (
    REF,
    SHARED_PATHS,
    blob_hash,
    fts_words,
    load_record,
    pack_blob,
    record_json,
    share,
)

from . import totals
from .fields import INDEXED_LISTS, json_path, list_text

Migration = tuple[int, str, Callable[[sqlite3.Connection], None]]

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
  id           TEXT PRIMARY KEY,
  started      REAL NOT NULL,          -- unix seconds, UTC
  finished     REAL,
  status       TEXT NOT NULL,          -- running | interrupted | finished | failed
  args         TEXT NOT NULL,          -- JSON: everything needed to rebuild the permutation
  done         INTEGER NOT NULL DEFAULT 0,  -- permutation watermark
  total        INTEGER NOT NULL DEFAULT 0,
  open_ports   INTEGER NOT NULL DEFAULT 0,
  observations INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS observations (
  id INTEGER PRIMARY KEY, scan_id TEXT NOT NULL, ip TEXT NOT NULL, ip_bin BLOB NOT NULL,
  port INTEGER NOT NULL, transport TEXT NOT NULL, ts REAL NOT NULL, status TEXT NOT NULL,
  service TEXT, product TEXT, version TEXT, title TEXT, data BLOB NOT NULL,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
  ip_bin BLOB NOT NULL, port INTEGER NOT NULL, transport TEXT NOT NULL,
  obs_id INTEGER NOT NULL, PRIMARY KEY (ip_bin, port, transport)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS obs_fts USING fts5 (
  data, title, product, tokenize = 'unicode61'
);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '', created REAL NOT NULL, revoked REAL, rate REAL, burst INTEGER
);
CREATE TABLE IF NOT EXISTS cve (
  id TEXT PRIMARY KEY, cvss REAL, severity TEXT, summary TEXT, published TEXT, modified TEXT
);
CREATE TABLE IF NOT EXISTS cve_cpe (
  cve_id TEXT NOT NULL REFERENCES cve(id) ON DELETE CASCADE, part TEXT NOT NULL,
  vendor TEXT NOT NULL, product TEXT NOT NULL, version TEXT NOT NULL, start_incl TEXT,
  start_excl TEXT, end_incl TEXT, end_excl TEXT, criteria TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cve_cpe_product ON cve_cpe(product, vendor);
"""


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Statement by statement: ``executescript`` would COMMIT the migration's
    transaction first. (So no ';' inside the comments of these scripts.)"""
    for stmt in script.split(";"):
        if any(line.strip() and not line.strip().startswith("--")
               for line in stmt.splitlines()):
            conn.execute(stmt)


def _baseline(conn: sqlite3.Connection) -> None:
    """Version 1: the schema of netatlas 0.1 (the session-2 store), as it was."""
    run_script(conn, _V1)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(observations)")}
    if "is_latest" not in columns:
        conn.execute("ALTER TABLE observations ADD COLUMN is_latest INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE observations SET is_latest = 1"
                     " WHERE id IN (SELECT obs_id FROM latest)")


_V2_TABLES = """
CREATE TABLE blobs (
  hash BLOB PRIMARY KEY,              -- blake2b-128 of the exact banner bytes
  data BLOB NOT NULL                  -- rows.pack_blob: a kind byte, then raw or zlib
) WITHOUT ROWID;
CREATE TABLE docs (
  hash TEXT PRIMARY KEY,              -- what records name in {"$ref": hash}
  doc  TEXT NOT NULL                  -- a value many records share (rows.SHARED_PATHS)
) WITHOUT ROWID;
CREATE TABLE observations_v2 (
  id          INTEGER PRIMARY KEY,
  scan_id     TEXT NOT NULL,
  ip          TEXT NOT NULL,          -- canonical text form
  ip_bin      BLOB NOT NULL,          -- 16 bytes, IPv4 as ::ffff:a.b.c.d: ranges compare bytewise
  port        INTEGER NOT NULL,
  transport   TEXT NOT NULL,
  ts          REAL NOT NULL,          -- unix seconds, UTC
  status      TEXT NOT NULL,
  service     TEXT,
  product     TEXT,
  version     TEXT,
  version_key BLOB,                   -- versions.version_sort_key: ranges seek an index
  title       TEXT,                   -- http.title, denormalised for search
  blob_hash   BLOB NOT NULL REFERENCES blobs (hash),
  record      TEXT NOT NULL,          -- the stored record (rows.slim), JSON
  is_latest   INTEGER NOT NULL DEFAULT 0  -- 1 on the newest row per (ip, port, transport)
);
"""
_V2_INDEXES = """
CREATE INDEX obs_endpoint ON observations (ip_bin, port, transport, ts, is_latest);
CREATE INDEX obs_scan ON observations (scan_id);
-- Search reads only the latest rows: partial indexes over them alone. The NOCASE ones
-- match how the query language compares strings, so `product:nginx` can seek.
CREATE INDEX latest_ts ON observations (ts) WHERE is_latest = 1;
CREATE INDEX latest_port ON observations (port, ts) WHERE is_latest = 1;
CREATE INDEX latest_service ON observations (service COLLATE NOCASE, ts) WHERE is_latest = 1;
-- ts and the rowid ride along: a product + version range sorts its matches newest-first
-- from the index alone, without a table read per match
CREATE INDEX latest_product ON observations (product COLLATE NOCASE, version_key, ts)
  WHERE is_latest = 1;
CREATE INDEX latest_title ON observations (title COLLATE NOCASE) WHERE is_latest = 1;
-- Full text: words only (rows.fts_words), no second copy of the text. rowid = id.
CREATE VIRTUAL TABLE obs_fts USING fts5 (
  words, content = '', tokenize = 'unicode61 remove_diacritics 0'
);
"""


def _dedupe_banners(conn: sqlite3.Connection) -> None:
    """Version 2: banners stored once per content and compressed, shared values once
    (rows.py); the record without a second copy of either; sortable version keys;
    words-only full text; no `latest` table (``is_latest`` says it). Records of older
    files keep their whole shape: reads and queries take both."""
    run_script(conn, _V2_TABLES)
    old = conn.execute(
        "SELECT id, scan_id, ip, ip_bin, port, transport, ts, status, service, product,"
        " version, title, data, record, is_latest FROM observations ORDER BY id")
    seen: set[bytes] = set()
    fts: list[tuple[int, str]] = []
    while rows := old.fetchmany(2000):
        out = []
        for (oid, scan_id, ip, ip_bin, port, transport, ts, status, service, product,
             version, title, data, record, is_latest) in rows:
            data = bytes(data)
            h = blob_hash(data)
            if h not in seen:
                seen.add(h)
                conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (h, pack_blob(data)))
            rec = json.loads(record)
            rec.pop("data", None)
            out.append((oid, scan_id, ip, ip_bin, port, transport, ts, status, service,
                        product, version, version_sort_key(version), title, h,
                        record_json(rec), is_latest))
            words = " ".join((banner_text(data), title or "", product or ""))
            fts.append((oid, " ".join(fts_words(words))))
        conn.executemany("INSERT INTO observations_v2 VALUES"
                         " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", out)
    run_script(conn, """
        DROP TABLE obs_fts;
        DROP TABLE latest;
        DROP TABLE observations;
        ALTER TABLE observations_v2 RENAME TO observations;
    """)
    run_script(conn, _V2_INDEXES)
    conn.executemany("INSERT INTO obs_fts (rowid, words) VALUES (?, ?)", fts)


def doc_resolver(conn: sqlite3.Connection) -> Callable[[str], Any]:
    """Shared values by hash, for code that rebuilds records inside a migration."""
    @functools.lru_cache(maxsize=20_000)
    def resolve(ref: str) -> Any:
        row = conn.execute("SELECT doc FROM docs WHERE hash = ?", (ref,)).fetchone()
        return load_record(row[0]) if row else None
    return resolve


def _facet_totals(conn: sqlite3.Connection) -> None:
    """Version 3: running facet totals over the latest rows (sqlite/totals.py), and each
    latest row's facet values, computed from the records already stored."""
    conn.execute("ALTER TABLE observations ADD COLUMN facet_values TEXT")
    conn.execute(totals.TABLE)
    totals.rebuild(conn, doc_resolver(conn))


def _monitoring(conn: sqlite3.Connection) -> None:
    """Version 4: continuous monitoring (store/monitors.py)."""
    run_script(conn, tables_sql(postgres=False))


# The shared values queries test over the documents (compile._term): the hash each
# latest row names, indexed, so the rows naming a matching document are seeks.
SHARED_REF_INDEXES: tuple[tuple[str, ...], ...] = (
    ("vulns",), ("risks",), ("ssl", "cert"), ("location",))


def _ref_expr(path: tuple[str, ...]) -> str:
    return f"json_extract(record, '{json_path((*path, REF))}')"


def _shared_refs(conn: sqlite3.Connection) -> None:
    """Version 5: every record names its non-empty shared values by hash (records stored
    whole before version 2 held them inline), and the latest rows' hashes are indexed:
    a query on CVEs, findings, certificates or locations tests the few distinct values,
    then seeks the rows (has_vuln at 10M rows: over 20 s before)."""
    inline = " OR ".join(
        f"(json_type(record, '{json_path(p)}') IN ('object', 'array')"
        f" AND {_ref_expr(p)} IS NULL)" for p in SHARED_PATHS)
    last = 0
    while rows := conn.execute(
            f"SELECT id, record FROM observations WHERE id > ? AND ({inline})"
            " ORDER BY id LIMIT 2000", (last,)).fetchall():
        for oid, text in rows:
            record = load_record(text)
            shared = share(record)
            conn.executemany("INSERT OR IGNORE INTO docs (hash, doc) VALUES (?, ?)",
                             shared.items())
            conn.execute("UPDATE observations SET record = ? WHERE id = ?",
                         (record_json(record), oid))
        last = rows[-1][0]
    for path in SHARED_REF_INDEXES:
        name = "latest_ref_" + "_".join(path)
        conn.execute(f"CREATE INDEX {name} ON observations ({_ref_expr(path)})"
                     f" WHERE is_latest = 1 AND {_ref_expr(path)} IS NOT NULL")


def _cve_cpe_by_cve(conn: sqlite3.Connection) -> None:
    """Version 6: ``cve_cpe`` indexed by CVE. Re-importing a CVE deletes its old rows by
    id (and the ``cve`` row's REPLACE cascades to them): without it each CVE of a feed
    scanned the whole table (80,000 CVEs took three minutes)."""
    conn.execute("CREATE INDEX IF NOT EXISTS cve_cpe_cve ON cve_cpe(cve_id)")


def _list_indexes(conn: sqlite3.Connection) -> None:
    """Version 7: the latest rows' low-cardinality lists (fields.INDEXED_LISTS: tags)
    indexed whole, as JSON text: a test reads each distinct list once, then seeks the
    rows (count tag:eol-product at 1M rows: 6 s parsing every record -> 12 ms)."""
    for path in INDEXED_LISTS:
        x = list_text(path, None)
        name = "latest_list_" + "_".join(path)
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON observations ({x})"
                     f" WHERE is_latest = 1 AND {x} IS NOT NULL")


def _facets_aside(conn: sqlite3.Connection) -> None:
    """Version 8: the latest rows' facet values move out of their rows into
    ``latest_facets`` (sqlite/totals.py says why), as facetkeys pairs."""
    conn.execute(totals.PAIRS_TABLE)
    last = 0
    while rows := conn.execute(
            "SELECT id, facet_values FROM observations WHERE id > ?"
            " AND facet_values IS NOT NULL ORDER BY id LIMIT 2000", (last,)).fetchall():
        conn.executemany("INSERT OR REPLACE INTO latest_facets (id, pairs) VALUES (?, ?)",
                         [(oid, pairs_json(pairs_of(values))) for oid, values in rows])
        last = rows[-1][0]
    conn.execute("UPDATE observations SET facet_values = NULL WHERE facet_values IS NOT NULL")


def _no_scan_index(conn: sqlite3.Connection) -> None:
    """Version 9: ``obs_scan`` goes. It served no query (``scan:`` compares NOCASE,
    which a BINARY index cannot answer) and cost every insert an entry (19 B/obs)."""
    conn.execute("DROP INDEX IF EXISTS obs_scan")


def _dictionaries(conn: sqlite3.Connection) -> None:
    """Version 10: the zstd dictionaries new banners and history records are packed
    against (store/dictpack.py), trained from the store's own values; kept for ever."""
    conn.execute(DICTIONARIES)


DICTIONARIES = """CREATE TABLE IF NOT EXISTS zdicts (
  id      INTEGER PRIMARY KEY,          -- the id packed values name in their zstd frame
  kind    TEXT NOT NULL,                -- dictpack.KINDS: banner | record
  data    BLOB NOT NULL,
  trained REAL NOT NULL                 -- unix seconds
)"""


MIGRATIONS: tuple[Migration, ...] = (
    (1, "baseline: scans, observations with history, api keys, CVE feed", _baseline),
    (2, "banners and shared values stored once, version keys, words-only full text",
     _dedupe_banners),
    (3, "running facet totals over the latest rows", _facet_totals),
    (4, "monitors, their state, events, notifiers and deliveries", _monitoring),
    (5, "shared values named by hash in every record, their hashes indexed",
     _shared_refs),
    (6, "CVE feed rows indexed by CVE id", _cve_cpe_by_cve),
    (7, "the latest rows' tag lists indexed", _list_indexes),
    (8, "latest rows' facet values in a table of their own", _facets_aside),
    (9, "the unused index of observations by scan dropped", _no_scan_index),
    (10, "compression dictionaries for banners and history records", _dictionaries),
)
LATEST = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied REAL NOT NULL)")
    (v,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(v)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply what this file lacks, each migration in one IMMEDIATE transaction (a second
    process opening the file at the same time waits, then finds nothing to do)."""
    applied: list[str] = []
    for version, description, apply in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) >= version:
                conn.execute("COMMIT")
                continue
            apply(conn)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                         (version, description, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(f"{version}: {description}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        stale = not totals.current(conn)  # a version that counts other facets wrote it
        if stale:
            totals.rebuild(conn, doc_resolver(conn))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if stale:
        applied.append("facet totals recounted for this version's facets")
    return applied
