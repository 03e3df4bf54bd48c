"""The scope policy: what we may touch.

An allow list is required. The deny list is the IANA special-purpose registries
(``reserved.py``) minus what the user explicitly allowed inside them, plus the user's
excludes, which always win. A whole scan is refused when any target lies outside the
allow list; targets inside it but denied are skipped and counted.

Carve-out rule: an allow entry lifts a reserved block only where the entry lies wholly
inside that block. ``--allow 127.20.0.0/16`` lifts the loopback deny for exactly that
/16; ``--allow 0.0.0.0/0`` lifts nothing, so private and reserved space stays denied
unless named on purpose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import _intervals as iv
from ._mapped import normalise_entries, normalise_ip, normalise_targets
from .errors import OutOfScope, ScopeError
from .refusals import refused_ranges
from .reserved import RESERVED
from .targets import TargetEntry, Targets, ip_to_str, parse_address_spec, parse_targets

Interval = tuple[int, int]
NO_ALLOW = "no allow list: name what you may scan with --allow"


@dataclass(frozen=True, slots=True)
class DenyRule:
    version: int
    first: int
    last: int
    reason: str  # "reserved: 10.0.0.0/8 private-use" or "excluded: 1.2.3.4 (--exclude)"


@dataclass(frozen=True, slots=True)
class Permitted:
    """Target addresses that survive the policy, and how many were skipped as denied."""

    v4: list[Interval]
    v6: list[Interval]
    skipped: int
    refused: list[tuple[str, str]]  # the first few denied ranges, each with its reason


def _read_file(path: str | Path, resolve: bool) -> list[TargetEntry]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScopeError(f"cannot read scope file {str(path)!r}: {exc}") from None
    entries: list[TargetEntry] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        try:
            entries.extend(parse_targets([content], resolve=resolve).entries)
        except ScopeError as exc:
            raise ScopeError(f"{path}:{lineno}: {exc}") from None
    return entries


def _as_ip(ip: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address every scope decision is taken on: IPv4-mapped IPv6 as its IPv4."""
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return normalise_ip(ip)
    try:
        return normalise_ip(ipaddress.ip_address(ip))  # type: ignore[arg-type]
    except ValueError:
        raise ScopeError(f"{ip!r} is not an IP address") from None


class Scope:
    """Allow list + deny list. Build one per scan; every stage asks it before sending."""

    def __init__(
        self,
        allow: Iterable[str],
        exclude: Iterable[str] = (),
        allow_files: Iterable[str | Path] = (),
        exclude_files: Iterable[str | Path] = (),
        resolve: bool = False,
    ) -> None:
        allow_entries = list(parse_targets(list(allow), resolve=resolve).entries)
        for path in allow_files:
            allow_entries.extend(_read_file(path, resolve))
        # ::ffff:0:0/96 allowed is 0.0.0.0/0 allowed, which lifts no IPv4 reserved block
        allow_entries = normalise_entries(allow_entries)
        if not allow_entries:
            raise ScopeError(NO_ALLOW)
        self.allow_entries: tuple[TargetEntry, ...] = tuple(allow_entries)
        self._allow = {
            v: iv.merge((e.first, e.last) for e in allow_entries if e.version == v) for v in (4, 6)
        }

        rules: list[DenyRule] = []
        for spec in list(exclude):
            for e in normalise_entries(parse_targets([spec], resolve=resolve).entries):
                rules.append(DenyRule(e.version, e.first, e.last, f"excluded: {e.spec}"))
        for path in exclude_files:
            for e in normalise_entries(_read_file(path, resolve)):
                rules.append(DenyRule(e.version, e.first, e.last, f"excluded: {e.spec} ({path})"))
        self.excluded: tuple[DenyRule, ...] = tuple(rules)

        reserved: list[DenyRule] = []
        for cidr, name in RESERVED:
            block = parse_address_spec(cidr)
            lifted = iv.merge(
                (e.first, e.last)
                for e in allow_entries
                if e.version == block.version and block.first <= e.first and e.last <= block.last
            )
            for first, last in iv.subtract([(block.first, block.last)], lifted):
                reserved.append(DenyRule(block.version, first, last, f"reserved: {cidr} {name}"))
        self.reserved: tuple[DenyRule, ...] = tuple(reserved)

        deny_rules = (*self.excluded, *self.reserved)
        self._deny = {
            v: iv.merge((r.first, r.last) for r in deny_rules if r.version == v) for v in (4, 6)
        }

    # -- single addresses -------------------------------------------------------------

    def describe_allow(self, limit: int = 3) -> str:
        specs = list(dict.fromkeys(e.spec for e in self.allow_entries))
        text = ", ".join(specs[:limit])
        if len(specs) > limit:
            text += f", … (+{len(specs) - limit} more)"
        return text

    def deny_reason(self, ip: object) -> str | None:
        """Why ``ip`` is denied (user excludes first: they are the more specific word)."""
        addr = _as_ip(ip)
        value = int(addr)
        if not iv.contains(self._deny[addr.version], value):
            return None
        for rule in (*self.excluded, *self.reserved):
            if rule.version == addr.version and rule.first <= value <= rule.last:
                return rule.reason
        return "denied"  # unreachable: _deny is the union of the rules

    def check_ip(self, ip: object) -> None:
        """Raise ``OutOfScope`` unless ``ip`` is allowed and not denied."""
        addr = _as_ip(ip)
        if not iv.contains(self._allow[addr.version], int(addr)):
            raise OutOfScope(f"{addr} is outside the allow list ({self.describe_allow()})")
        reason = self.deny_reason(addr)
        if reason is not None:
            raise OutOfScope(f"{addr} is in the deny list ({reason})")

    def permitted_intervals(self, version: int) -> list[tuple[int, int]]:
        """The allow list minus the deny list, as merged integer intervals of one IP
        version: what a raw-packet sender checks each destination against."""
        return iv.subtract(self._allow[version], self._deny[version])

    def is_allowed(self, ip: object) -> bool:
        try:
            self.check_ip(ip)
        except ScopeError:
            return False
        return True

    # -- whole target sets ------------------------------------------------------------

    def check_targets(self, targets: Targets) -> None:
        """Refuse the whole scan when any target address lies outside the allow list."""
        targets = normalise_targets(targets)
        for entry in targets.entries:
            outside = iv.first_outside(self._allow[entry.version], entry.first, entry.last)
            if outside is not None:
                addr = ip_to_str(entry.version, outside)
                what = f"{entry.spec!r}" if entry.spec == addr else f"{entry.spec!r} ({addr})"
                raise OutOfScope(
                    f"refusing to scan: target {what} is outside the allow list "
                    f"({self.describe_allow()}); nothing was sent"
                )
        # Entries are the source of truth, but guard against hand-built Targets too.
        for version, intervals in ((4, targets.v4), (6, targets.v6)):
            rest = iv.subtract(intervals, self._allow[version])
            if rest:
                addr = ip_to_str(version, rest[0][0])
                raise OutOfScope(
                    f"refusing to scan: target {addr} is outside the allow list "
                    f"({self.describe_allow()}); nothing was sent"
                )

    def permitted(self, targets: Targets) -> Permitted:
        """Check ``targets`` then drop denied addresses, counting them."""
        targets = normalise_targets(targets)
        self.check_targets(targets)
        v4 = iv.subtract(targets.v4, self._deny[4])
        v6 = iv.subtract(targets.v6, self._deny[6])
        skipped = targets.size - iv.total(v4) - iv.total(v6)
        refused = (refused_ranges((*self.excluded, *self.reserved), targets.v4, targets.v6)
                   if skipped else [])
        return Permitted(v4, v6, skipped, refused)
