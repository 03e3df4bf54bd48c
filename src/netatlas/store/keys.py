"""API keys, the parts every backend shares: secrets are random and shown once; a
store keeps only their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time

from netatlas.store.base import ROLES, ApiKey, KeyRow, Role


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def role_allows(have: str, need: Role) -> bool:
    """Each role can do what the ones before it can: read < scan < admin."""
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)


def new_key(role: str, name: str = "", rate: float | None = None,
            burst: int | None = None) -> tuple[str, KeyRow]:
    """A fresh key: (the secret, shown once; what a store keeps of it)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    secret = secrets.token_hex(16)  # 32 characters, like a Shodan key
    key = ApiKey(id=secrets.token_hex(4), role=role, name=name,
                 created=time.time(), rate=rate, burst=burst)
    return secret, KeyRow(key, hash_key(secret))
