"""RabbitMQ management: ``guest``/``guest`` on the HTTP API (GET /api/whoami).
RabbitMQ lets guest in from loopback only unless ``loopback_users`` is changed; a
server that answers 200 here has it open to whoever can reach it."""

from __future__ import annotations

from . import Credential, DefaultLogin, Limits, Target, register
from ._wire import basic, http_request


async def attempt(target: Target, cred: Credential, limits: Limits) -> bool:
    resp = await http_request(target, limits, "GET", "/api/whoami",
                              [basic(cred.user, cred.secret)])
    if resp.status == 200:
        return f'"name":"{cred.user}"'.encode() in resp.body.replace(b" ", b"")
    if resp.status in (401, 403):
        return False
    raise ValueError(f"GET /api/whoami answered {resp.status}")


def applies(t: Target) -> bool:
    return t.service in ("http", "https") and "rabbitmq" in t.product.lower()


FAMILY = register(DefaultLogin(
    "RabbitMQ management", applies, (Credential("guest", "guest"),), attempt))
