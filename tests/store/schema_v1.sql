-- netatlas SQLite schema. Every observation is kept (history); `latest` points at the
-- newest observation per (ip, port, transport) and is what search reads.
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

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
  id        INTEGER PRIMARY KEY,
  scan_id   TEXT NOT NULL,
  ip        TEXT NOT NULL,             -- canonical text form
  ip_bin    BLOB NOT NULL,             -- 16 bytes; IPv4 as ::ffff:a.b.c.d so ranges compare bytewise
  port      INTEGER NOT NULL,
  transport TEXT NOT NULL,
  ts        REAL NOT NULL,             -- unix seconds, UTC
  status    TEXT NOT NULL,
  service   TEXT,
  product   TEXT,
  version   TEXT,
  title     TEXT,                      -- http.title, denormalised for search
  data      BLOB NOT NULL,             -- exact banner bytes, capped by grab
  record    TEXT NOT NULL,             -- the published JSON record
  is_latest INTEGER NOT NULL DEFAULT 0 -- 1 on the row `latest` points at (see below)
);
CREATE INDEX IF NOT EXISTS obs_endpoint ON observations (ip_bin, port, transport, ts);
CREATE INDEX IF NOT EXISTS obs_scan ON observations (scan_id);
-- newest-first search pages walk this index instead of sorting every match
CREATE INDEX IF NOT EXISTS obs_ts ON observations (ts);
CREATE INDEX IF NOT EXISTS obs_port ON observations (port);

CREATE TABLE IF NOT EXISTS latest (
  ip_bin    BLOB NOT NULL,
  port      INTEGER NOT NULL,
  transport TEXT NOT NULL,
  obs_id    INTEGER NOT NULL REFERENCES observations (id),
  PRIMARY KEY (ip_bin, port, transport)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS latest_obs ON latest (obs_id);
-- Searches read only latest rows: observations.is_latest mirrors `latest`, and partial
-- indexes over those rows let SQLite walk newest-first pages and group facets without
-- touching the history (created in sqlite.py, after older files gain the column).

-- Full text over banners, titles and product names; rowid = observations.id.
CREATE VIRTUAL TABLE IF NOT EXISTS obs_fts USING fts5 (
  data, title, product, tokenize = 'unicode61'
);
