"""Vendor default credentials that logged in: read from the ``default_login`` section
the opt-in ``--check-default-logins`` step wrote (assess/intrusive/). Like every check
here it reads only the record; the record names the user, never the password."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, as_text, quote, sec


def default_login(obs: Observation) -> str | None:
    accepted = sec(obs, "default_login").get("accepted")
    if not isinstance(accepted, list):
        return None
    logins = [a for a in accepted if isinstance(a, dict) and as_text(a.get("user"))]
    if not logins:
        return None
    first = logins[0]
    more = f" (+{len(logins) - 1} more)" if len(logins) > 1 else ""
    return (f"{as_text(first.get('product'))} accepted the vendor default password for "
            f"{quote(first['user'], 40)} ({as_text(first.get('password'))}){more}")


CHECKS: tuple[Check, ...] = (
    Check("default-login", "critical", "Vendor default credentials accepted", default_login),
)
