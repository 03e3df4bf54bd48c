"""What the policy refused among a scan's targets, and why — said to the user, and a
scan with nothing left to send is an error rather than a silent empty success."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _intervals as iv
from .errors import ScopeError
from .targets import ip_to_str

if TYPE_CHECKING:
    from .policy import DenyRule
    from .space import TargetSpace

Interval = tuple[int, int]
SHOWN = 5  # refused ranges named one by one; the rest are counted


def refused_ranges(rules: tuple[DenyRule, ...], v4: list[Interval], v6: list[Interval],
                   limit: int = SHOWN) -> list[tuple[str, str]]:
    """Up to ``limit`` (range, reason) pairs: the target addresses each deny rule took,
    the first rule to match an address giving its reason."""
    out: list[tuple[str, str]] = []
    left = {4: list(v4), 6: list(v6)}
    for rule in rules:
        taken = iv.intersect(left[rule.version], [(rule.first, rule.last)])
        if not taken:
            continue
        left[rule.version] = iv.subtract(left[rule.version], taken)
        for first, last in taken:
            if len(out) == limit:
                return out
            text = ip_to_str(rule.version, first)
            if last != first:
                text += f"-{ip_to_str(rule.version, last)}"
            out.append((text, rule.reason))
    return out


def describe(refused: list[tuple[str, str]], skipped: int) -> str:
    text = "; ".join(f"{what} ({why})" for what, why in refused)
    named = sum(1 for _ in refused)
    return text + (f"; … ({skipped} addresses in all)" if skipped > named else "")


def require_something_to_scan(space: TargetSpace) -> None:
    """Raise ``ScopeError`` saying why when ``space`` holds no endpoint at all."""
    if space.size:
        return
    if not space.nports:
        raise ScopeError("nothing to scan: no port is left (--exclude-ports removes them all)")
    if space.skipped:
        raise ScopeError("nothing to scan: every target address is in the deny list: "
                         + describe(space.refused, space.skipped))
    raise ScopeError("nothing to scan: the targets name no address")
