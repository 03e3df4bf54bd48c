"""Redis with ``requirepass`` set to ``foobared``, the example redis.conf ships
(commented out) and that copied configurations keep. Only for a Redis that said it
requires AUTH: one without is the ``redis-no-auth`` finding already."""

from __future__ import annotations

from ...grab.engine.errors import ProtocolError
from . import Credential, DefaultLogin, Limits, Target, register
from ._wire import opened


def _auth(secret: str) -> bytes:
    raw = secret.encode()
    return b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(raw), raw)


async def attempt(target: Target, cred: Credential, limits: Limits) -> bool:
    async with opened(target, limits) as conn:
        await conn.write(_auth(cred.secret), limits.read_timeout)
        line = await conn.read_until(b"\r\n", 512, limits.read_timeout)
        if line.startswith(b"+OK"):
            await conn.write(b"*1\r\n$4\r\nQUIT\r\n", limits.read_timeout)
            return True
        if line.startswith((b"-WRONGPASS", b"-ERR invalid password", b"-ERR invalid username")):
            return False
        raise ProtocolError(f"unexpected reply to AUTH: {line[:60]!r}")


def applies(t: Target) -> bool:
    redis = t.sections.get("redis")
    return (t.service == "redis" and isinstance(redis, dict)
            and redis.get("auth_required") is True and not redis.get("protected_mode"))


FAMILY = register(DefaultLogin(
    "Redis", applies, (Credential("default", "foobared", "example config"),), attempt))
