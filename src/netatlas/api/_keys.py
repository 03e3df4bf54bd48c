"""API keys: random secrets shown once, stored only as their SHA-256, in the store's
own SQLite file (table ``api_keys``) through a connection of our own.

Key writes are rare (``netatlas keys ...``), so they do not go through the store's
writer; WAL plus a busy time-out lets them sit beside it.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Role = Literal["read", "scan", "admin"]
ROLES: tuple[Role, ...] = ("read", "scan", "admin")  # each role can do what the ones before can

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
  id       TEXT PRIMARY KEY,         -- public handle for list / revoke; not the secret
  hash     TEXT NOT NULL UNIQUE,     -- sha256 hex of the secret
  role     TEXT NOT NULL,
  name     TEXT NOT NULL DEFAULT '',
  created  REAL NOT NULL,
  revoked  REAL,
  rate     REAL,                     -- requests/s for this key; NULL = server default
  burst    INTEGER
)
"""


def role_allows(have: str, need: Role) -> bool:
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)  # type: ignore[arg-type]


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    role: Role
    name: str
    created: float
    revoked: float | None = None
    rate: float | None = None
    burst: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "role": self.role, "name": self.name, "created": self.created,
                "revoked": self.revoked, "rate": self.rate, "burst": self.burst}


class KeyStore:
    def __init__(self, db: str | Path) -> None:
        self.path = str(db)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(_SCHEMA)

    def create(self, role: str, name: str = "", rate: float | None = None,
               burst: int | None = None) -> tuple[str, ApiKey]:
        """Make a key; returns (secret, record). The secret is not kept anywhere."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        secret = secrets.token_hex(16)  # 32 characters, like a Shodan key
        key = ApiKey(id=secrets.token_hex(4), role=role, name=name,  # type: ignore[arg-type]
                     created=time.time(), rate=rate, burst=burst)
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys (id, hash, role, name, created, rate, burst)"
                " VALUES (?,?,?,?,?,?,?)",
                (key.id, hash_key(secret), key.role, key.name, key.created, rate, burst),
            )
        return secret, key

    def verify(self, secret: str) -> ApiKey | None:
        """The live key for this secret, or None (unknown or revoked)."""
        if not secret or len(secret) > 256:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT id, role, name, created, revoked, rate, burst FROM api_keys"
                " WHERE hash = ? AND revoked IS NULL",
                (hash_key(secret),),
            ).fetchone()
        return ApiKey(*row) if row else None

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, role, name, created, revoked, rate, burst FROM api_keys"
                " ORDER BY created"
            ).fetchall()
        return [ApiKey(*r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (time.time(), key_id),
            )
        return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()
