"""Read the installed nmap's ``nmap-service-probes`` in place and run its matchers.

The file is parsed at run time (never copied into the tree). Parsing only splits
lines; each ``match`` pattern is compiled the first time a response could reach it,
with the ``regex`` module, on bytes, and every search carries a timeout: the file's
11,000+ PCRE patterns were written for nmap, not for hostile input against Python.

nmap semantics kept here: a probe's matches run in file order, the first hard
``match`` wins; a ``softmatch`` fixes the service and from then on only matches of
that service are tried; a probe's ``fallback`` probes and, for TCP, the NULL probe
are tried after its own list. The probe list (payloads, ports, rarity, ...) is
what grab/engine/scheduler.py sends; this module only parses and matches. ``shared()`` is
the one parsed copy a process needs (grab and identify both use it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/usr/share/nmap/nmap-service-probes")
MAX_INPUT = 16 * 1024  # bytes of one response a pattern may see
MATCH_TIMEOUT = 0.05  # seconds per pattern search

_FLAG_BITS = {"i": regex.IGNORECASE, "s": regex.DOTALL}
_C_ESCAPES = {
    "\\": 0x5C, "0": 0, "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11,
}
_META = set(b".^$|?*+()[]{}\\")
_ESC_LITERAL = {ord("r"): 13, ord("n"): 10, ord("t"): 9, ord("f"): 12, ord("v"): 11,
                ord("a"): 7, ord("e"): 27}


class ProbeFileError(ValueError):
    """A line of nmap-service-probes we could not parse (logged, never fatal)."""


@dataclass(slots=True)
class ServiceMatch:
    """One ``match`` / ``softmatch`` line."""

    service: str
    pattern: bytes
    flags: str
    soft: bool
    templates: dict[str, str]  # p v i h o d -> template text
    cpe: tuple[str, ...]
    line: int
    prefix: bytes = b""  # literal bytes every match must start with ("" = unknown)
    _compiled: Any = None  # regex.Pattern, False when it failed to compile

    def compiled(self, stats: MatchStats) -> Any:
        if self._compiled is None:
            flags = 0
            for f in self.flags:
                flags |= _FLAG_BITS.get(f, 0)
            try:
                try:
                    self._compiled = regex.compile(self.pattern, flags)
                except regex.error:
                    # PCRE reads a "{" that starts no quantifier as a literal
                    self._compiled = regex.compile(pcre_braces(self.pattern), flags)
            except (regex.error, ValueError, OverflowError) as exc:
                stats.compile_failures += 1
                log.warning("nmap-service-probes line %d: pattern does not compile: %s",
                            self.line, exc)
                self._compiled = False
        return self._compiled


@dataclass(slots=True)
class Probe:
    """One ``Probe`` block: what a scheduler would send, and the matchers for its reply."""

    protocol: str  # "TCP" or "UDP"
    name: str
    payload: bytes
    no_payload: bool = False
    ports: tuple[tuple[int, int], ...] = ()
    sslports: tuple[tuple[int, int], ...] = ()
    rarity: int | None = None
    fallback: tuple[str, ...] = ()
    totalwaitms: int | None = None
    tcpwrappedms: int | None = None
    matches: list[ServiceMatch] = field(default_factory=list)
    line: int = 0

    def covers(self, port: int, ssl: bool = False) -> bool:
        ranges = self.sslports if ssl else self.ports
        return any(lo <= port <= hi for lo, hi in ranges)


@dataclass(slots=True)
class NmapResult:
    """What one nmap matcher concluded (templates already filled in)."""

    service: str
    soft: bool
    probe: str
    line: int
    product: str | None = None
    version: str | None = None
    info: str | None = None
    hostname: str | None = None
    os: str | None = None
    devicetype: str | None = None
    cpe: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MatchStats:
    """Running counters: how often patterns failed to compile, timed out, ran."""

    compile_failures: int = 0
    timeouts: int = 0
    searches: int = 0
    prefiltered: int = 0


@dataclass(slots=True)
class ParseStats:
    probes: int = 0
    matches: int = 0
    softmatches: int = 0
    bad_lines: int = 0
    seconds: float = 0.0


class NmapProbes:
    """The parsed probe file plus a matcher over captured responses."""

    def __init__(self, probes: list[Probe], path: Path | None = None,
                 exclude: str | None = None, parse_stats: ParseStats | None = None,
                 timeout: float = MATCH_TIMEOUT) -> None:
        self.path = path
        self.probes = probes
        self.exclude = exclude
        self.parse_stats = parse_stats or ParseStats()
        self.stats = MatchStats()
        self.timeout = timeout
        self._by_name: dict[tuple[str, str], Probe] = {}
        self._possible: dict[tuple[str, str, str], bool] = {}
        for p in probes:
            self._by_name.setdefault((p.protocol, p.name), p)

    # -- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH, timeout: float = MATCH_TIMEOUT) -> NmapProbes:
        path = Path(path)
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            text = fh.read().decode("latin-1")  # byte-exact: patterns are bytes
        probes, exclude, stats = parse(text.splitlines())
        stats.seconds = time.perf_counter() - t0
        log.info("nmap-service-probes: %d probes, %d matches, %d softmatches, "
                 "%d bad lines in %.3fs", stats.probes, stats.matches, stats.softmatches,
                 stats.bad_lines, stats.seconds)
        return cls(probes, path=path, exclude=exclude, parse_stats=stats, timeout=timeout)

    @property
    def match_count(self) -> int:
        return self.parse_stats.matches + self.parse_stats.softmatches

    def probe(self, name: str, protocol: str = "TCP") -> Probe | None:
        return self._by_name.get((protocol.upper(), name))

    def can_match(self, probe: Probe, service: str) -> bool:
        """Could this probe's reply still hard-match ``service`` (its own lines or its
        fallbacks')? nmap's rule for the probes worth sending after a softmatch."""
        key = (probe.protocol, probe.name, service)
        known = self._possible.get(key)
        if known is None:
            chain = [probe, *(p for p in map(self._fallback, probe.fallback) if p)]
            known = any(not m.soft and m.service == service for p in chain for m in p.matches)
            self._possible[key] = known
        return known

    def compile_all(self) -> int:
        """Compile every pattern now (for checks and figures); returns failures."""
        before = self.stats.compile_failures
        for p in self.probes:
            for m in p.matches:
                m.compiled(self.stats)
        return self.stats.compile_failures - before

    # -- matching ----------------------------------------------------------------
    def match(self, responses: Mapping[str, bytes], transport: str = "tcp") -> list[NmapResult]:
        """One result per probe response that nmap's rules identify (hard or soft)."""
        proto = "UDP" if transport.lower() == "udp" else "TCP"
        out: list[NmapResult] = []
        for name, data in responses.items():
            if not data:
                continue
            probe = self._by_name.get((proto, name))
            if probe is None:
                continue
            res = self.match_probe(probe, data[:MAX_INPUT])
            if res is not None:
                out.append(res)
        return out

    def match_probe(self, probe: Probe, data: bytes) -> NmapResult | None:
        soft: NmapResult | None = None
        for chain_probe in self._chain(probe):
            for m in chain_probe.matches:
                if soft is not None and m.service != soft.service:
                    continue
                hit = self._search(m, data)
                if hit is None:
                    continue
                res = _fill(m, hit, probe.name)
                if not m.soft:
                    return res
                if soft is None:
                    soft = res
        return soft

    def _fallback(self, name: str) -> Probe | None:
        """nmap looks a fallback up among the TCP probes, then the UDP ones: the TCP
        DNS probes fall back to the UDP DNSVersionBindReq, whose patterns allow for
        the TCP length prefix."""
        return self._by_name.get(("TCP", name)) or self._by_name.get(("UDP", name))

    def _chain(self, probe: Probe) -> Iterable[Probe]:
        seen = {probe.name}
        yield probe
        for fb in probe.fallback:
            p = self._fallback(fb)
            if p is not None and fb not in seen:
                seen.add(fb)
                yield p
        null = self._by_name.get(("TCP", "NULL"))
        if probe.protocol == "TCP" and null is not None and "NULL" not in seen:
            yield null

    def _search(self, m: ServiceMatch, data: bytes) -> Any:
        if m.prefix and not data.startswith(m.prefix):
            self.stats.prefiltered += 1
            return None
        pat = m.compiled(self.stats)
        if pat is False:
            return None
        self.stats.searches += 1
        try:
            # concurrent: the GIL is released, so a scheduler thread matching a reply
            # does not stall the event loop
            return pat.search(data, timeout=self.timeout, concurrent=True)
        except TimeoutError:
            self.stats.timeouts += 1
            log.warning("nmap-service-probes line %d: pattern timed out", m.line)
            return None


_shared: dict[Path, NmapProbes] = {}
_shared_lock = threading.Lock()


def shared(path: str | Path = DEFAULT_PATH) -> NmapProbes | None:
    """The process-wide parsed copy of ``path`` (None when it is not installed): the
    scheduler and the identifier read the same 11,000 lines once."""
    path = Path(path)
    with _shared_lock:
        db = _shared.get(path)
        if db is None:
            if not path.is_file():
                return None
            try:
                db = NmapProbes.load(path)
            except OSError as exc:
                log.warning("cannot read %s: %s", path, exc)
                return None
            _shared[path] = db
        return db


# -- parsing ---------------------------------------------------------------------

def parse(lines: Iterable[str]) -> tuple[list[Probe], str | None, ParseStats]:
    """Parse the file's lines (decoded latin-1 so each char is one byte)."""
    probes: list[Probe] = []
    exclude: str | None = None
    stats = ParseStats()
    cur: Probe | None = None
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        try:
            if word in ("match", "softmatch"):
                if cur is None:
                    raise ProbeFileError("match before any Probe")
                cur.matches.append(parse_match(rest, soft=word == "softmatch", line=lineno))
                if word == "match":
                    stats.matches += 1
                else:
                    stats.softmatches += 1
            elif word == "Probe":
                cur = parse_probe(rest, lineno)
                probes.append(cur)
                stats.probes += 1
            elif word == "Exclude":
                exclude = rest.strip()
            elif cur is None:
                raise ProbeFileError(f"directive {word!r} before any Probe")
            elif word == "ports":
                cur.ports = parse_ports(rest)
            elif word == "sslports":
                cur.sslports = parse_ports(rest)
            elif word == "rarity":
                cur.rarity = int(rest)
            elif word == "fallback":
                cur.fallback = tuple(x.strip() for x in rest.split(",") if x.strip())
            elif word == "totalwaitms":
                cur.totalwaitms = int(rest)
            elif word == "tcpwrappedms":
                cur.tcpwrappedms = int(rest)
            else:
                raise ProbeFileError(f"unknown directive {word!r}")
        except (ProbeFileError, ValueError) as exc:
            stats.bad_lines += 1
            log.warning("nmap-service-probes line %d: %s", lineno, exc)
    return probes, exclude, stats


def parse_probe(rest: str, lineno: int) -> Probe:
    parts = rest.split(None, 2)
    if len(parts) < 3 or parts[0] not in ("TCP", "UDP") or not parts[2].startswith("q"):
        raise ProbeFileError(f"bad Probe line: {rest[:60]!r}")
    proto, name, qpart = parts
    delim = qpart[1:2]
    end = qpart.find(delim, 2)
    if not delim or end < 0:
        raise ProbeFileError("unterminated probe string")
    payload = unescape_c(qpart[2:end])
    tail = qpart[end + 1:].split()
    return Probe(protocol=proto, name=name, payload=payload,
                 no_payload="no-payload" in tail, line=lineno)


def parse_ports(text: str) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        lo, _, hi = item.partition("-")
        a, b = int(lo), int(hi or lo)
        if not (0 <= a <= b <= 65535):
            raise ProbeFileError(f"bad port range {item!r}")
        out.append((a, b))
    return tuple(out)


def parse_match(rest: str, soft: bool, line: int) -> ServiceMatch:
    service, _, spec = rest.strip().partition(" ")
    spec = spec.lstrip()
    if not service or len(spec) < 3 or spec[0] != "m":
        raise ProbeFileError(f"bad match line: {rest[:60]!r}")
    delim = spec[1]
    end = spec.find(delim, 2)
    if end < 0:
        raise ProbeFileError("unterminated pattern")
    pattern = spec[2:end].encode("latin-1")
    i = end + 1
    flags = ""
    while i < len(spec) and spec[i] in "is":
        flags += spec[i]
        i += 1
    templates: dict[str, str] = {}
    cpes: list[str] = []
    n = len(spec)
    while i < n:
        while i < n and spec[i].isspace():
            i += 1
        if i >= n:
            break
        if spec.startswith("cpe:", i):
            key, i = "cpe", i + 4
        elif spec[i] in "pvihod" and i + 1 < n:
            key, i = spec[i], i + 1
        else:
            raise ProbeFileError(f"bad version field at col {i}: {spec[i:i + 20]!r}")
        d = spec[i]
        j = spec.find(d, i + 1)
        if j < 0:
            raise ProbeFileError(f"unterminated {key} field")
        value = spec[i + 1:j]
        i = j + 1
        while i < n and not spec[i].isspace():  # field flags, e.g. cpe's "a"
            i += 1
        if key == "cpe":
            cpes.append("cpe:/" + value)
        else:
            templates[key] = value
    return ServiceMatch(service=service, pattern=pattern, flags=flags, soft=soft,
                        templates=templates, cpe=tuple(cpes), line=line,
                        prefix=literal_prefix(pattern, flags))


def unescape_c(s: str) -> bytes:
    """nmap probe strings: C escapes, ``\\xHH``; the rest is literal (latin-1)."""
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "\\" or i + 1 >= n:
            out.append(ord(c) & 0xFF)
            i += 1
            continue
        e = s[i + 1]
        if e == "x" and i + 3 < n + 1:
            try:
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            except ValueError:
                pass
        if e in _C_ESCAPES:
            out.append(_C_ESCAPES[e])
        else:
            out.append(ord(e) & 0xFF)
        i += 2
    return bytes(out)


def literal_prefix(pattern: bytes, flags: str) -> bytes:
    """Bytes every match of an anchored pattern must start with, or b"" if unsure.

    A cheap ``startswith`` then skips compiling and running most of the file's
    patterns against a given response. Conservative: any construct not plainly
    literal ends the prefix; top-level alternation or ``i`` disables it.
    """
    if "i" in flags or not pattern.startswith(b"^") or _has_top_level_alt(pattern):
        return b""
    out = bytearray()
    i, n = 1, len(pattern)
    while i < n:
        c = pattern[i]
        start = len(out)
        if c == 0x5C:  # backslash
            if i + 1 >= n:
                break
            e = pattern[i + 1]
            if e == ord("x"):
                hexd = pattern[i + 2:i + 4]
                if len(hexd) != 2 or not all(ch in b"0123456789abcdefABCDEF" for ch in hexd):
                    break
                out.append(int(hexd, 16))
                i += 4
            elif e == ord("0"):
                j = i + 2
                while j < n and j < i + 4 and pattern[j] in b"01234567":
                    j += 1
                out.append(int(pattern[i + 1:j], 8) & 0xFF)
                i = j
            elif e in _ESC_LITERAL:
                out.append(_ESC_LITERAL[e])
                i += 2
            elif not (chr(e).isalnum()):
                out.append(e)
                i += 2
            else:  # \d \w \s \b \1 ... : not literal
                break
        elif c in _META:
            break
        else:
            out.append(c)
            i += 1
        # a quantifier applies to the last literal: drop it and stop
        if i < n and pattern[i] in b"?*+{":
            del out[start:]
            break
    return bytes(out)


_QUANT = regex.compile(rb"\{\d+(?:,\d*)?\}")


def pcre_braces(pattern: bytes) -> bytes:
    """Escape each ``{`` that PCRE would take literally (no ``{n}``/``{n,m}`` after it)."""
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x5C:
            out += pattern[i:i + 2]
            i += 2
            continue
        if c == ord("{") and not _QUANT.match(pattern, i):
            out += b"\\{"
        else:
            out.append(c)
        i += 1
    return bytes(out)


def _has_top_level_alt(pattern: bytes) -> bool:
    depth, i, n, in_class = 0, 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == 0x5C:
            i += 2
            continue
        if in_class:
            if c == ord("]"):
                in_class = False
        elif c == ord("["):
            in_class = True
            if pattern[i + 1:i + 2] == b"^":
                i += 1
            if pattern[i + 1:i + 2] == b"]":
                i += 1
        elif c == ord("("):
            depth += 1
        elif c == ord(")"):
            depth -= 1
        elif c == ord("|") and depth == 0:
            return True
        i += 1
    return False


# -- templates -------------------------------------------------------------------

def _group(hit: Any, n: int) -> bytes:
    try:
        return hit.group(n) or b""
    except (IndexError, regex.error):
        return b""


def _printable(b: bytes) -> str:
    return "".join(chr(c) for c in b if 0x20 <= c < 0x7F)


def _escaped(b: bytes) -> str:
    return "".join(chr(c) if 0x20 <= c < 0x7F else f"\\x{c:02x}" for c in b)


_HELPER = regex.compile(
    r'\$(?:(\d)|P\((\d)\)|SUBST\((\d),"((?:[^"\\]|\\.)*)","((?:[^"\\]|\\.)*)"\)|I\((\d),"([<>])"\))'
)


def expand(template: str, hit: Any, cpe: bool = False) -> str:
    """Fill ``$1``, ``$P(1)``, ``$SUBST(1,"a","b")`` and ``$I(1,">")``.

    In a CPE each filled-in value is kept to one component (no ":" or spaces)."""

    def repl(m: Any) -> str:
        v = _repl(m)
        return v.replace(":", "_").replace(" ", "_").lower() if cpe else v

    def _repl(m: Any) -> str:
        if m.group(1):
            return _escaped(_group(hit, int(m.group(1))))
        if m.group(2):
            return _printable(_group(hit, int(m.group(2))))
        if m.group(3):
            return _escaped(_group(hit, int(m.group(3)))).replace(m.group(4), m.group(5))
        raw = _group(hit, int(m.group(6)))
        return str(int.from_bytes(raw, "big" if m.group(7) == ">" else "little")) if raw else ""

    return _HELPER.sub(repl, template).strip()


def _fill(m: ServiceMatch, hit: Any, probe: str) -> NmapResult:
    vals = {k: (expand(v, hit) or None) for k, v in m.templates.items()}
    cpes = [c for c in (expand(c, hit, cpe=True) for c in m.cpe) if c and c != "cpe:/"]
    return NmapResult(
        service=m.service, soft=m.soft, probe=probe, line=m.line,
        product=vals.get("p"), version=vals.get("v"), info=vals.get("i"),
        hostname=vals.get("h"), os=vals.get("o"), devicetype=vals.get("d"), cpe=cpes,
    )
