"""Grafana: ``admin``/``admin``, the first-run password, by POST /login."""

from __future__ import annotations

import json

from . import Credential, DefaultLogin, Limits, Target, register
from ._wire import http_request


async def attempt(target: Target, cred: Credential, limits: Limits) -> bool:
    body = json.dumps({"user": cred.user, "password": cred.secret}).encode()
    resp = await http_request(target, limits, "POST", "/login",
                              [("Content-Type", "application/json")], body)
    if resp.status == 200:
        return b"Logged in" in resp.body
    if resp.status in (401, 403):
        return False
    raise ValueError(f"POST /login answered {resp.status}")


def applies(t: Target) -> bool:
    return t.service in ("http", "https") and "grafana" in t.product.lower()


FAMILY = register(DefaultLogin(
    "Grafana", applies, (Credential("admin", "admin"),), attempt))
