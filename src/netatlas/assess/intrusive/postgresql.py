"""PostgreSQL: ``postgres`` without a password (trust), then with ``postgres``.

psycopg (libpq) speaks the protocol, SCRAM included; nothing from the environment can
add a credential (PGPASSWORD and ~/.pgpass are shut out), GSS is not tried, and the
connection closes as soon as it opens."""

from __future__ import annotations

import math

import psycopg
from psycopg import errors

from . import Credential, DefaultLogin, Limits, Target, register

_NO_PASSFILE = "/nonexistent/netatlas-no-passfile"


async def attempt(target: Target, cred: Credential, limits: Limits) -> bool:
    try:
        conn = await psycopg.AsyncConnection.connect(
            hostaddr=target.ip, host=target.ip, port=target.port, user=cred.user,
            password=cred.secret, passfile=_NO_PASSFILE, dbname="postgres",
            connect_timeout=max(2, math.ceil(limits.connect_timeout)),
            sslmode="prefer", gssencmode="disable", application_name="netatlas",
            sslcertmode="disable")
    except errors.InvalidCatalogName:
        return True  # "database does not exist" is said only after authentication
    except psycopg.OperationalError as e:
        text = str(e)
        if "password authentication failed" in text or "no password supplied" in text \
                or "pg_hba.conf" in text or getattr(e, "sqlstate", None) in ("28P01", "28000"):
            return False
        raise ValueError(text.strip().splitlines()[0][:160] if text.strip() else "refused") \
            from None
    await conn.close()
    return True


def applies(t: Target) -> bool:
    return t.service == "postgresql"


FAMILY = register(DefaultLogin(
    "PostgreSQL", applies,
    (Credential("postgres", "", "none asked"), Credential("postgres", "postgres", "default")),
    attempt))
