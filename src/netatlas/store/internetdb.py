"""The offline InternetDB file (``export --format internetdb-sqlite``): one row per
address with its ports, CPEs, host names, tags and vulns, looked up by address — a
SQLite file anyone can query without netatlas (``SELECT * FROM hosts WHERE ip = ?``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE hosts (
  ip TEXT PRIMARY KEY,     -- canonical text form
  ports TEXT NOT NULL,     -- JSON arrays, as InternetDB answers them
  cpes TEXT NOT NULL,
  hostnames TEXT NOT NULL,
  tags TEXT NOT NULL,
  vulns TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
"""
_LISTS = ("ports", "cpes", "hostnames", "tags", "vulns")
BATCH = 5000


def write(path: str | Path, summaries: Iterable[dict[str, Any]], source: str = "") -> int:
    """Write a new file at ``path`` (replacing one that is there); returns its rows."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    n = 0
    try:
        conn.executescript(_SCHEMA)
        batch: list[tuple[str, ...]] = []
        for s in summaries:
            batch.append((s["ip"], *(json.dumps(s[k]) for k in _LISTS)))
            if len(batch) >= BATCH:
                conn.executemany("INSERT OR REPLACE INTO hosts VALUES (?,?,?,?,?,?)", batch)
                n += len(batch)
                batch = []
        conn.executemany("INSERT OR REPLACE INTO hosts VALUES (?,?,?,?,?,?)", batch)
        n += len(batch)
        conn.execute("INSERT INTO meta VALUES ('source', ?)", (source,))
        conn.commit()
    finally:
        conn.close()
    tmp.replace(path)  # a reader never sees a half-written file
    return n


def lookup(path: str | Path, ip: str) -> dict[str, Any] | None:
    """One address's row from a file ``write`` made, in InternetDB's shape."""
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT ip, ports, cpes, hostnames, tags, vulns FROM hosts"
                           " WHERE ip = ?", (ip,)).fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return {"ip": row[0], **{k: json.loads(v) for k, v in zip(_LISTS, row[1:], strict=True)}}
