"""Tomcat Manager: ``tomcat``/``tomcat`` and ``admin``/``admin`` by HTTP Basic on
/manager/html. A 404 means no manager is deployed: nothing more is tried."""

from __future__ import annotations

from . import Credential, DefaultLogin, Limits, NotApplicable, Target, register
from ._wire import basic, http_request


async def attempt(target: Target, cred: Credential, limits: Limits) -> bool:
    resp = await http_request(target, limits, "GET", "/manager/html",
                              [basic(cred.user, cred.secret)])
    if resp.status == 200:
        return True
    if resp.status in (401, 403):  # 403: a user without manager-gui, or a valve
        return False
    if resp.status == 404:
        raise NotApplicable("no /manager/html (404)")
    raise ValueError(f"GET /manager/html answered {resp.status}")


def applies(t: Target) -> bool:
    return t.service in ("http", "https") and "tomcat" in t.product.lower()


FAMILY = register(DefaultLogin(
    "Apache Tomcat manager", applies,
    (Credential("tomcat", "tomcat"), Credential("admin", "admin")), attempt))
