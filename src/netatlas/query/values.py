"""Turning the text of one value into a typed value for its field.

Every function raises ``ValueError`` with a message for the user; the parser adds
the column. Escapes (in quoted and bare values alike): ``\\"`` ``\\\\`` ``\\*`` ``\\?``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .ast import Glob
from .ipbin import canonical_ip, canonical_network
from .versions import version_key

_ESCAPABLE = '"\\*?'
_INT = re.compile(r"([+-]?)0*(\d+)")  # leading zeros are no digits: port:0080 is 80
_INT_RANGE = re.compile(r"([+-]?\d+)-([+-]?\d+)")
_INT_DIGITS = 19  # a signed 64-bit integer's
_DECIMAL = re.compile(r"[+-]?\d{1,5}(?:\.\d{1,5})?")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_INT64 = 2**63
SEVERITIES = ("info", "low", "medium", "high", "critical")  # in rank order


def unquote(token: str, quoted: bool) -> str | Glob:
    """Raw token text -> plain text, or a Glob when it holds unescaped ``*``/``?``."""
    body = token[1:-1] if quoted else token
    plain: list[str] = []
    glob: list[str] = []
    wild = False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in _ESCAPABLE:
            ch = body[i + 1]
            plain.append(ch)
            glob.append("\\" + ch if ch in "*?\\" else ch)
            i += 2
            continue
        plain.append(ch)
        if ch in "*?":
            wild = True
            glob.append(ch)
        else:
            glob.append("\\\\" if ch == "\\" else ch)
        i += 1
    return Glob("".join(glob)) if wild else "".join(plain)


def as_text(value: str | Glob) -> str:
    """The literal text of a value (a Glob's wildcards kept as typed)."""
    if isinstance(value, Glob):
        return re.sub(r"\\(.)", r"\1", value.pattern)
    return value


def parse_int(text: str, bounds: tuple[int, int] | None = None) -> int:
    """A whole number; one with more digits than any bound (or a 64-bit integer) can
    hold is refused by its size, with ``bounds`` named when given."""
    m = _INT.fullmatch(text.strip())
    if not m:
        raise ValueError(f'expected a whole number, not "{_short(text)}"')
    sign, digits = m.groups()
    if len(digits) > _INT_DIGITS:
        limit = f"{bounds[0]} to {bounds[1]}" if bounds else f"at most {_INT_DIGITS} digits"
        raise ValueError(f"{sign}{_short(digits, 12)} ({len(digits)} digits) is out of "
                         f"bounds: {limit}")
    n = int(sign + digits)
    if not -_INT64 <= n < _INT64:
        raise ValueError("number out of range")
    return n


def check_bounds(n: float, bounds: tuple[int, int] | None) -> None:
    """ValueError naming the bound when ``n`` lies outside ``bounds``."""
    if bounds is not None and not bounds[0] <= n <= bounds[1]:
        raise ValueError(f"{n:g} is out of bounds: {bounds[0]} to {bounds[1]}")


def parse_score(text: str, bounds: tuple[int, int]) -> str:
    """A decimal score (CVSS) inside ``bounds``; the text is kept as typed. Only plain
    decimals: inf, nan and exponents are refused, as the bound says."""
    s = text.strip()
    if not _DECIMAL.fullmatch(s):
        raise ValueError(f'expected a number {bounds[0]} to {bounds[1]}, like 7.5, '
                         f'not "{_short(text)}"')
    check_bounds(float(s), bounds)
    return s


def parse_int_range(text: str, bounds: tuple[int, int] | None = None
                    ) -> tuple[int, int] | None:
    m = _INT_RANGE.fullmatch(text.strip())
    if not m:
        return None
    lo, hi = parse_int(m.group(1), bounds), parse_int(m.group(2), bounds)
    if lo > hi:
        raise ValueError(f"empty range: {lo} is greater than {hi}")
    return lo, hi


def parse_date(text: str) -> tuple[float, float]:
    """A date or ISO time -> (start, end) in unix seconds: a bare date spans its day,
    a time its second. Naive times are UTC."""
    s = text.strip()
    m = _DMY.fullmatch(s)
    try:
        if m:  # Shodan's dd/mm/yyyy
            dt = datetime(int(m.group(3)), int(m.group(2)), int(m.group(1)), tzinfo=UTC)
            date_only = True
        else:
            if not s or not s[0].isdigit():
                raise ValueError
            dt = datetime.fromisoformat(s)
            date_only = len(s) <= 10 and "T" not in s and " " not in s
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
        start = dt.timestamp()
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f'expected a date like 2026-01-31 or 2026-01-31T12:00:00Z, not "{_short(text)}"'
        ) from None
    span = timedelta(days=1) if date_only else timedelta(seconds=1)
    return start, start + span.total_seconds()


def parse_version(text: str) -> str:
    if version_key(text) is None:
        raise ValueError(f'expected a version like 8.0 or 9.2p1, not "{_short(text)}"')
    return text.strip()


def parse_ip(text: str) -> str:
    """An address -> canonical text; a network (has "/") -> canonical CIDR."""
    try:
        if "/" in text:
            return canonical_network(text)
        return canonical_ip(text)
    except ValueError:
        raise ValueError(f'not an IP address or CIDR network: "{_short(text)}"') from None


def parse_net(text: str) -> str:
    try:
        return canonical_network(text)
    except ValueError:
        raise ValueError(f'not a CIDR network: "{_short(text)}"') from None


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f'expected true or false, not "{_short(text)}"')


def parse_severity(text: str) -> int:
    word = text.strip().lower()
    if word not in SEVERITIES:
        raise ValueError(f'expected one of {", ".join(SEVERITIES)}, not "{_short(text)}"')
    return SEVERITIES.index(word)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
