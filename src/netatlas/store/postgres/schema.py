"""The PostgreSQL schema as numbered migrations, applied in order when a store opens.

Each migration runs once, in its own transaction, and is recorded in
``schema_migrations``. A session advisory lock makes two processes that open the same
database at once take turns: the second finds nothing left to do. A migration's SQL is
frozen once released: change the schema by appending a migration, never by editing one.
(Before the first release, 1 and 2 were rewritten for the slim record shape: a database
made by that pre-release code is refused with a message, not half-migrated.)
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from netatlas.store.dictpack import FIRST_ID
from netatlas.store.monitors import tables_sql
from netatlas.store.shards import TABLE_SQL as SHARDS_SQL

from .totals import TOTALED
from .versionkey import FUNCTION_SQL as VERSION_KEY_SQL

Migration = tuple[int, str, str]

MIGRATE_LOCK = 0x6E61_7461_6D69_6701  # pg_advisory_lock key: "netatlas migrate"

_V1 = """
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);

CREATE TABLE scans (
  id           text PRIMARY KEY,
  started      double precision NOT NULL,  -- unix seconds, UTC
  finished     double precision,
  status       text NOT NULL,              -- running | interrupted | finished | failed
  args         text NOT NULL,              -- JSON, exactly as written (sort_keys)
  done         bigint NOT NULL DEFAULT 0,  -- permutation watermark
  total        bigint NOT NULL DEFAULT 0,
  open_ports   bigint NOT NULL DEFAULT 0,
  observations bigint NOT NULL DEFAULT 0
);

-- Banner bytes once per distinct content (rows.pack_blob: a kind byte, raw or zlib).
-- No foreign key from observations: both are written in one transaction, and a
-- per-row key check would cost every insert.
CREATE TABLE blobs (hash bytea PRIMARY KEY, data bytea NOT NULL);

-- Values many records share (rows.SHARED_PATHS), once per distinct content: records
-- name them {"$ref": hash}. `doc` is what queries read; `raw` the JSON exactly as
-- written (key order, NUL escapes), what records are rebuilt from. Never updated.
CREATE TABLE docs (hash text PRIMARY KEY, doc jsonb NOT NULL, raw text NOT NULL);

-- Every observation, written once and never updated (history: host pages, export).
CREATE TABLE observations (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insert order
  ts          double precision NOT NULL,  -- unix seconds, UTC
  port        integer NOT NULL,
  ip          inet NOT NULL,              -- IPv4-mapped IPv6 stored as IPv4
  transport   text NOT NULL,
  scan_id     text NOT NULL,
  status      text NOT NULL,
  service     text,
  product     text,
  version     text,
  ip_text     text,                       -- the address as written, if not host(ip)
  blob_hash   bytea NOT NULL,             -- blobs.hash: the banner
  doc         bytea NOT NULL              -- the stored record (rows.slim) as written,
                                          -- compressed (packdoc)
) WITH (autovacuum_vacuum_insert_scale_factor = 0.05);
-- One row per endpoint and time: the same observation sent again (a batch re-sent after
-- a lost connection, a re-run, a resumed copy) is stored once. Also finds a host's rows.
CREATE UNIQUE INDEX obs_endpoint ON observations (ip, port, transport, ts);

-- The newest observation of each endpoint (moves forward in time only), with what
-- search reads: the only table queries, counts and facets scan. `id` is its row in
-- observations. Text columns hold U+FFFD for NUL (pgtext); the exact values are in
-- observations. Rewritten in place when a newer observation arrives: vacuumed often.
CREATE TABLE latest (
  ip          inet NOT NULL,
  port        integer NOT NULL,
  transport   text NOT NULL,
  ts          double precision NOT NULL,
  id          bigint NOT NULL,
  scan_id     text NOT NULL,
  status      text NOT NULL,
  service     text,
  product     text,
  version     text,
  version_key bytea,                      -- versions.version_sort_key: ranges seek
  title       text,                       -- http.title, for search
  ip_text     text,
  record      jsonb NOT NULL,             -- the stored record, for search
  fts         tsvector NOT NULL,          -- words of banner, title, product ('simple')
  PRIMARY KEY (ip, port, transport)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.05);

CREATE TABLE api_keys (
  id      text PRIMARY KEY,           -- public handle for list / revoke; not the secret
  hash    text NOT NULL UNIQUE,       -- sha256 hex of the secret
  role    text NOT NULL,
  name    text NOT NULL DEFAULT '',
  created double precision NOT NULL,
  revoked double precision,
  rate    double precision,           -- requests/s for this key; NULL = server default
  burst   integer
);

CREATE TABLE cve (
  id        text PRIMARY KEY,
  cvss      double precision,
  severity  text,
  summary   text,
  published text,
  modified  text
);
CREATE TABLE cve_cpe (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- feed order
  cve_id     text NOT NULL REFERENCES cve (id) ON DELETE CASCADE,
  part       text NOT NULL,
  vendor     text NOT NULL,
  product    text NOT NULL,
  version    text NOT NULL,
  start_incl text,
  start_excl text,
  end_incl   text,
  end_excl   text,
  criteria   text NOT NULL
);
CREATE INDEX cve_cpe_product ON cve_cpe (product, vendor);
CREATE INDEX cve_cpe_cve ON cve_cpe (cve_id);
"""

# Search reads `latest` only. Expressions here must stay exactly as the compiler writes
# them (store/postgres/fields.py), or the planner will not match them. Filters on
# service / product / port walk their index newest first (ts DESC, id DESC): a page
# needs no sort, and a count reads the index alone.
_V2 = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX latest_ts ON latest (ts DESC, id DESC);
CREATE INDEX latest_port ON latest (port, ts DESC, id DESC);
CREATE INDEX latest_service ON latest (lower(service), ts DESC, id DESC);
CREATE INDEX latest_product ON latest (lower(product), ts DESC, id DESC, version_key);
CREATE INDEX latest_version ON latest (version_key);
CREATE INDEX latest_scan ON latest (lower(scan_id));
CREATE INDEX latest_title ON latest USING gin (lower(title) gin_trgm_ops);
CREATE INDEX latest_fts ON latest USING gin (fts);

-- Lists, lower-cased: element equality is containment (@>, or ? for vulns' keys).
CREATE INDEX latest_tags ON latest
  USING gin ((lower((record #> '{tags}')::text)::jsonb) jsonb_path_ops);
CREATE INDEX latest_hostnames ON latest
  USING gin ((lower((record #> '{hostnames}')::text)::jsonb) jsonb_path_ops);
CREATE INDEX latest_cpe ON latest
  USING gin ((lower((record #> '{cpe}')::text)::jsonb) jsonb_path_ops);
-- Shared lists (risks, vulns, cpe23) live in docs: equality finds the matching
-- documents there, then the records naming them.
CREATE INDEX docs_lower ON docs USING gin ((lower(doc::text)::jsonb));
CREATE INDEX latest_risks ON latest ((record #>> '{risks,$ref}'))
  WHERE (record #>> '{risks,$ref}') IS NOT NULL;
CREATE INDEX latest_vulns ON latest ((record #>> '{vulns,$ref}'))
  WHERE (record #>> '{vulns,$ref}') IS NOT NULL;
CREATE INDEX latest_cpe23 ON latest ((record #>> '{cpe23,$ref}'))
  WHERE (record #>> '{cpe23,$ref}') IS NOT NULL;
"""

# PostgreSQL answers from an expression index alone (no heap visit) only when every
# column the query names is in the index: carrying the column itself lets a count or a
# facet over service / product / scan read the index only. At 1M observations,
# `count service:http` 315 -> 18 ms, the product facet over everything 260 -> 77 ms.
_V5 = """
DROP INDEX latest_service;
CREATE INDEX latest_service ON latest (lower(service), ts DESC, id DESC) INCLUDE (service);
DROP INDEX latest_product;
CREATE INDEX latest_product ON latest (lower(product), ts DESC, id DESC, version_key)
  INCLUDE (product);
DROP INDEX latest_scan;
CREATE INDEX latest_scan ON latest (lower(scan_id)) INCLUDE (scan_id);
"""

# Running totals of the latest rows' column facets (store/postgres/totals.py), kept by
# the writer in the statement that moves the rows. A NULL value (no product) is a total
# too, so a count that NULLs take part in (-product:nginx) is answered like the rows.
_V7 = """
CREATE TABLE column_totals (
  field text NOT NULL,                  -- a latest column: port, service, product, ...
  value text,                           -- its value as text (port: digits)
  n     bigint NOT NULL,                -- latest rows holding it
  CONSTRAINT column_totals_key UNIQUE NULLS NOT DISTINCT (field, value)
);
""" + "".join(
    f"INSERT INTO column_totals (field, value, n) SELECT '{c}', {c}::text, count(*)"
    f" FROM latest GROUP BY {c};\n" for c in TOTALED)

# The zstd dictionaries banners and history records are packed against (dictpack.py),
# trained by a writer from the store's own values and kept for ever. Ids come from a
# sequence: writers in several processes may each train one, and frames name theirs.
_V8 = f"""
CREATE SEQUENCE zdicts_id START {FIRST_ID + 1};
CREATE TABLE zdicts (
  id      integer PRIMARY KEY,
  kind    text NOT NULL,              -- dictpack.KINDS: banner | record
  data    bytea NOT NULL,
  trained double precision NOT NULL   -- unix seconds
);
"""


MIGRATIONS: tuple[Migration, ...] = (
    (1, "baseline: scans, observations with history, latest for search, banners and"
        " shared values once, api keys, CVE feed", _V1),
    (2, "indexes for the search language over the latest rows, trigram titles", _V2),
    (3, "monitors, their state, events, notifiers and deliveries", tables_sql(postgres=True)),
    (4, "shards of distributed scans: state, worker, watermark", SHARDS_SQL),
    (5, "service, product and scan indexes carry their column: counts and facets read"
        " the index alone", _V5),
    (6, "netatlas_version_key(text): a section's release compares as version: does",
     VERSION_KEY_SQL),
    (7, "running totals of the latest rows' port, service, product, ... values", _V7),
    (8, "compression dictionaries for banners and history records", _V8),
)
LATEST = max(version for version, _, _ in MIGRATIONS)


class PreReleaseSchema(RuntimeError):
    """A database made by pre-release code whose migrations were since rewritten."""


def one_row(cur: psycopg.Cursor[Any]) -> tuple[Any, ...]:
    """The row of a query that returns exactly one (an aggregate, a function call)."""
    row = cur.fetchone()
    if row is None:
        raise psycopg.DataError("the query returned no row")
    return row


def current_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    (v,) = one_row(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations"))
    return int(v)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply what this database lacks; ``conn`` must be in autocommit mode. Returns
    ``"N: description"`` for each migration applied."""
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version integer PRIMARY KEY, description text NOT NULL,"
                     " applied timestamptz NOT NULL DEFAULT now())")
        done = current_version(conn)
        if done and one_row(conn.execute("SELECT to_regclass('docs') IS NULL"))[0]:
            raise PreReleaseSchema(
                "this PostgreSQL database was made by a pre-release netatlas (records"
                " stored whole, no shared documents): make a new database and fill it"
                " again, e.g. with `netatlas store copy` from a SQLite store")
        for version, description, sql in MIGRATIONS:
            if version <= done:
                continue
            with conn.transaction():
                conn.execute(sql)  # no parameters: several statements in one call
                conn.execute("INSERT INTO schema_migrations (version, description)"
                             " VALUES (%s, %s)", (version, description))
            applied.append(f"{version}: {description}")
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
    return applied


# Tables whose rows are rewritten in place (a rescan moves an endpoint's row in `latest`
# forward): their indexes fill with half-empty pages, as each new row's entries go
# in at the newest end of every (key, ts) run and the old ones leave holes behind that
# no later entry fills. At 200k observations with rescans, latest's indexes held 117 MB
# of which a rebuild kept 25. The other tables are only appended to.
REWRITTEN = ("latest",)
_LEFTOVERS = """
SELECT n.nspname, c.relname
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid AND i.indrelid = %s::regclass AND c.relname ~ '_ccnew[0-9]*$'
"""


def compact(conn: psycopg.Connection, full: bool = False) -> None:
    """Give back the space rewritten rows leave behind; ``conn`` in autocommit mode.
    Default: each such table's indexes rebuilt beside the old ones (REINDEX
    CONCURRENTLY: searches and writes go on), then VACUUM (its heap's free space is
    reused, not returned). ``full``: VACUUM FULL, heap and indexes rewritten, returned
    to the operating system — the table is locked, searches wait, for the duration."""
    for table in REWRITTEN:
        # an earlier REINDEX CONCURRENTLY cut short leaves its half-built copies, invalid
        # and still updated by every write: drop them first
        for space, index in conn.execute(_LEFTOVERS, (table,)).fetchall():
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                sql.Identifier(space, index)))
        if full:
            conn.execute(f"VACUUM (FULL, ANALYZE) {table}")
        else:
            conn.execute(f"REINDEX TABLE CONCURRENTLY {table}")
            conn.execute(f"VACUUM (ANALYZE) {table}")
