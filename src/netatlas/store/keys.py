"""API keys, the parts every backend shares: secrets are random and shown once; a
store keeps only their SHA-256."""

from __future__ import annotations

import hashlib

from netatlas.store.base import ROLES, Role


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def role_allows(have: str, need: Role) -> bool:
    """Each role can do what the ones before it can: read < scan < admin."""
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)  # type: ignore[arg-type]
