"""The PostgreSQL schema as numbered migrations, applied in order when a store opens.

Each migration runs once, in its own transaction, and is recorded in
``schema_migrations``. A session advisory lock makes two processes that open the same
database at once take turns: the second finds nothing left to do. A migration's SQL is
frozen once released: change the schema by appending a migration, never by editing one.
"""

from __future__ import annotations

import psycopg

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

CREATE TABLE observations (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insert order
  ts          double precision NOT NULL,  -- unix seconds, UTC
  port        integer NOT NULL,
  is_latest   boolean NOT NULL DEFAULT false,  -- mirrors `latest`, same transaction
  ip          inet NOT NULL,              -- IPv4-mapped IPv6 stored as IPv4
  transport   text NOT NULL,
  scan_id     text NOT NULL,
  status      text NOT NULL,
  service     text,
  product     text,
  version     text,
  version_key bytea,                      -- versions.version_sort_key: ranges seek
  title       text,                       -- http.title, for search
  blob_hash   bytea NOT NULL,             -- blobs.hash: the banner
  record      jsonb NOT NULL,             -- the record without `data`, for search
  doc         text NOT NULL,              -- the same record as written (key order, NULs)
  fts         tsvector NOT NULL           -- words of banner, title, product ('simple')
);
-- One row per endpoint and time: the same observation sent again (a batch re-sent after
-- a lost connection, a re-run, a resumed copy) is stored once. Also finds a host's rows.
CREATE UNIQUE INDEX obs_endpoint ON observations (ip, port, transport, ts);

-- The newest observation per endpoint; moves forward in time only.
CREATE TABLE latest (
  ip        inet NOT NULL,
  port      integer NOT NULL,
  transport text NOT NULL,
  ts        double precision NOT NULL,
  obs_id    bigint NOT NULL,
  PRIMARY KEY (ip, port, transport)
);

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

# Search reads only the latest rows: partial indexes over them alone. Expressions here
# must stay exactly as the compiler writes them (store/postgres/fields.py), or the
# planner will not match them.
_V2 = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX latest_ts ON observations (ts DESC, id DESC) WHERE is_latest;
CREATE INDEX latest_port ON observations (port, ts) WHERE is_latest;
CREATE INDEX latest_ip ON observations (ip, port, transport) WHERE is_latest;
CREATE INDEX latest_service ON observations (lower(service)) WHERE is_latest;
CREATE INDEX latest_product ON observations (lower(product), version_key) WHERE is_latest;
CREATE INDEX latest_version ON observations (version_key) WHERE is_latest;
CREATE INDEX latest_scan ON observations (lower(scan_id)) WHERE is_latest;
CREATE INDEX latest_title ON observations USING gin (lower(title) gin_trgm_ops)
  WHERE is_latest;
CREATE INDEX latest_fts ON observations USING gin (fts) WHERE is_latest;

-- Lists, lower-cased: element equality is containment (@>, or ? for vulns' keys).
CREATE INDEX latest_tags ON observations
  USING gin ((lower((record #> '{tags}')::text)::jsonb) jsonb_path_ops) WHERE is_latest;
CREATE INDEX latest_hostnames ON observations
  USING gin ((lower((record #> '{hostnames}')::text)::jsonb) jsonb_path_ops) WHERE is_latest;
CREATE INDEX latest_cpe ON observations
  USING gin ((lower((record #> '{cpe}')::text)::jsonb) jsonb_path_ops) WHERE is_latest;
CREATE INDEX latest_cpe23 ON observations
  USING gin ((lower((record #> '{cpe23}')::text)::jsonb) jsonb_path_ops) WHERE is_latest;
CREATE INDEX latest_risks ON observations
  USING gin ((lower((record #> '{risks}')::text)::jsonb) jsonb_path_ops) WHERE is_latest;
CREATE INDEX latest_vulns ON observations
  USING gin ((lower((record #> '{vulns}')::text)::jsonb)) WHERE is_latest;
"""

MIGRATIONS: tuple[Migration, ...] = (
    (1, "baseline: scans, observations with history, latest, banners once, api keys,"
        " CVE feed", _V1),
    (2, "indexes for the search language over the latest rows, trigram titles", _V2),
)
LATEST = MIGRATIONS[-1][0]


def current_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    (v,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
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
