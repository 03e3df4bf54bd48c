"""Opt-in intrusive checks: ``netatlas scan --check-default-logins``.

INTRUSIVE. Everything else in ``assess`` only reads what a record holds; this package
logs in. It runs only when the user asks for it, only against the endpoint the scan
already found inside its scope (it is handed that endpoint and nothing else: no other
host, no other port), only on a service identification already named, and only with a
short fixed list of vendor default credentials: one attempt per pair, stopping at the
first that works, every exchange time-bounded and every read capped.

One module per product family declares itself with :func:`register` (its name, which
identified services it applies to, its credentials and one login attempt); this file
collects them, so adding a family touches that one file and its test. The record gets a
``default_login`` section saying what was tried and which user name got in; the
password itself is never stored (a credential is named by its user and a label such as
"empty"), and the ``default-login`` check (``assess/checks/logins.py``) turns an
accepted login into a critical finding.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ...grab.engine.errors import GrabError

log = logging.getLogger(__name__)

SECTION = "default_login"
NOTICE = "intrusive: trying vendor default credentials on"


@dataclass(frozen=True, slots=True)
class Credential:
    user: str
    secret: str = field(repr=False)  # sent once to the service; never recorded
    label: str = "default"  # how the record names the password: "empty", "default", ...


@dataclass(frozen=True, slots=True)
class Target:
    """The one scoped endpoint a family may talk to, and what identify said it is."""

    ip: str
    port: int
    tls: bool
    service: str
    product: str
    sections: Mapping[str, Any] = field(default_factory=dict)

    @property
    def host_header(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        default = 443 if self.tls else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout: float = 3.0
    read_timeout: float = 3.0  # one whole reply, not one chunk
    per_service: float = 15.0  # every attempt of one family on one endpoint
    max_bytes: int = 16 * 1024  # cap on any reply read
    user_agent: str = "netatlas/0.1 (+self-hosted survey; --check-default-logins)"


class NotApplicable(Exception):
    """The service is not what the family logs in to after all (e.g. no manager app):
    stop trying its credentials, record nothing as refused."""


Attempt = Callable[[Target, Credential, Limits], Awaitable[bool]]
Outcome = Literal["accepted", "refused", "not-applicable", "error"]


@dataclass(frozen=True, slots=True)
class DefaultLogin:
    name: str  # the product family as the record names it: "MySQL/MariaDB"
    applies: Callable[[Target], bool]
    credentials: tuple[Credential, ...]
    attempt: Attempt  # True: logged in; False: refused; raises on any other trouble


_FAMILIES: dict[str, DefaultLogin] = {}
_loaded = False


def register(family: DefaultLogin) -> DefaultLogin:
    if family.name in _FAMILIES:
        raise ValueError(f"default-login family {family.name!r} registered twice")
    _FAMILIES[family.name] = family
    return family


def families() -> tuple[DefaultLogin, ...]:
    """Every family, from the modules of this package (imported once)."""
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True
    return tuple(_FAMILIES.values())


def applicable(target: Target) -> list[DefaultLogin]:
    out = []
    for fam in families():
        try:
            if fam.applies(target):
                out.append(fam)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a malformed section is no reason to log in
    return out


_TROUBLE = (TimeoutError, OSError, EOFError, ssl.SSLError, GrabError, ValueError,
            asyncio.IncompleteReadError)


async def try_family(fam: DefaultLogin, target: Target,
                     limits: Limits) -> list[dict[str, Any]]:
    """Each credential of ``fam`` once, in order, until one is accepted; the whole
    family bounded by ``limits.per_service``. Returns one row per attempt made."""
    rows: list[dict[str, Any]] = []

    def row(cred: Credential, outcome: Outcome, detail: str = "") -> dict[str, Any]:
        r: dict[str, Any] = {"product": fam.name, "user": cred.user, "password": cred.label,
                             "outcome": outcome}
        if detail:
            r["detail"] = detail[:160]
        return r

    try:
        async with asyncio.timeout(limits.per_service):
            for cred in fam.credentials:
                try:
                    ok = await fam.attempt(target, cred, limits)
                except NotApplicable as e:
                    rows.append(row(cred, "not-applicable", str(e)))
                    break
                except _TROUBLE as e:
                    rows.append(row(cred, "error", f"{type(e).__name__}: {e}"))
                    break  # a service in trouble gets no more attempts
                rows.append(row(cred, "accepted" if ok else "refused"))
                if ok:
                    break
    except TimeoutError:
        rows.append({"product": fam.name, "outcome": "error",
                     "detail": f"time bound of {limits.per_service:g}s reached"})
    return rows


async def check_default_logins(target: Target, limits: Limits | None = None
                               ) -> dict[str, Any] | None:
    """The ``default_login`` section for one scoped endpoint, or None when no family
    applies to what identify named (then nothing at all was sent)."""
    limits = limits or Limits()
    fams = applicable(target)
    if not fams:
        return None
    log.warning("%s %s:%s (%s)", NOTICE, target.ip, target.port,
                ", ".join(f.name for f in fams))
    tried: list[dict[str, Any]] = []
    for fam in fams:
        tried += await try_family(fam, target, limits)
    accepted = [{"product": r["product"], "user": r["user"], "password": r["password"]}
                for r in tried if r["outcome"] == "accepted"]
    return {"tried": tried, "accepted": accepted}


def family_names() -> list[str]:
    return [f.name for f in families()]


__all__ = ["NOTICE", "SECTION", "Credential", "DefaultLogin", "Limits", "NotApplicable",
           "Target", "check_default_logins", "families", "family_names", "register",
           "try_family"]
