"""Read Rapid7 Recog XML fingerprint databases in place and match grab facts against them.

Each ``<fingerprints matches="KEY">`` file holds regexes over one kind of text (an
SSH software string, an HTTP Server header, an FTP greeting, ...). ``MATCH_FIELDS``
says where that text lives in a grab result. Recog's semantics are kept: within a
file, fingerprints run in order and the first match wins; ``<param pos="0">`` is a
fixed value, ``pos="N"`` capture group N; ``{name}`` in a value interpolates another
param (CPEs).

The patterns are Ruby regexes: ``^``/``$`` always anchor at lines, Ruby's ``(?m)``
is dot-matches-newline, ``\\h`` is a hex digit, ``\\z`` ends the string. They are
translated, compiled lazily with ``regex`` and every search is time-bounded on a
capped input, since the text comes from a scanned server. The XML is trusted less
than it could be: a DOCTYPE (the door to entity expansion) is refused.
"""

from __future__ import annotations

import base64
import logging
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from netatlas.identify.candidate import Candidate
from netatlas.identify.fields import as_texts, lookup
from netatlas.model import GrabResult

log = logging.getLogger(__name__)

ENV_VAR = "NETATLAS_FINGERPRINTS"
MAX_INPUT = 8 * 1024  # chars of one text a pattern may see
MATCH_TIMEOUT = 0.05  # seconds per pattern search
MAX_FILE = 16 * 1024 * 1024
MAX_VALUE = 200

_RECOG_FLAGS = {
    "REG_ICASE": regex.IGNORECASE,
    "REG_DOT_NEWLINE": regex.DOTALL,  # Ruby Regexp::MULTILINE
    "REG_MULTILINE": regex.DOTALL,  # also mapped to Ruby's MULTILINE by Recog
    "REG_LINE_ANY_CRLF": 0,
    "REG_EXTENDED": regex.VERBOSE,
}
_INTERP = regex.compile(r"\{([\w.\-]+)\}")


def _ssh_software(sections: Mapping[str, Any]) -> Any:
    """Recog's ssh.banner is the identification line after ``SSH-2.0-``."""
    line = lookup(sections, "ssh.version_string")
    if isinstance(line, str):
        m = regex.match(r"SSH-[\d.]+-", line)
        return line[m.end():].rstrip("\r\n") if m else line
    return None


def _first_line(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Greetings are matched line by line in Recog; ours keep the whole reply text."""
    def get(sections: Mapping[str, Any]) -> Any:
        v = lookup(sections, path)
        return v.split("\n", 1)[0] if isinstance(v, str) else v
    return get


def _path(path: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda sections: lookup(sections, path)


# Recog ``matches`` key -> (service it implies, how to read its text from sections,
# evidence priority as in rules/README.md: -1 = secondary, names a product only
# when no primary evidence does; component: names a part, never the product).
@dataclass(frozen=True, slots=True)
class FieldMap:
    service: str | None
    get: Callable[[Mapping[str, Any]], Any]
    priority: int = 0
    component: bool = False


MATCH_FIELDS: dict[str, FieldMap] = {
    "ssh.banner": FieldMap("ssh", _ssh_software),
    "ftp.banner": FieldMap("ftp", _first_line("ftp.banner")),
    "smtp.banner": FieldMap("smtp", _first_line("smtp.banner")),
    "pop3.banner": FieldMap("pop3", _first_line("pop3.banner")),
    "imap4.banner": FieldMap("imap", _first_line("imap.banner")),
    "nntp.banner": FieldMap("nntp", _first_line("nntp.banner")),
    "telnet_banners": FieldMap("telnet", _path("telnet.banner")),
    "mysql.banners": FieldMap("mysql", _path("mysql.server_version")),
    "http_header.server": FieldMap("http", _path("http.server")),
    "http_header.cookie": FieldMap(None, _path("http.headers.set-cookie"), priority=-1),
    "http_header.wwwauth": FieldMap(None, _path("http.headers.www-authenticate"),
                                    priority=-1),
    "http_header.x-powered-by": FieldMap(None, _path("http.headers.x-powered-by"),
                                         component=True),
    "html_title": FieldMap(None, _path("http.title"), priority=-1),
    "rtsp_header.server": FieldMap("rtsp", _path("rtsp.server")),
    "sip_header.server": FieldMap("sip", _path("sip.server")),
    "sip_header.user_agent": FieldMap("sip", _path("sip.user_agent")),
    "snmp.sys_description": FieldMap("snmp", _path("snmp.sysdescr")),
    "dns.versionbind": FieldMap("domain", _path("dns.version_bind")),
    "x509.subject": FieldMap(None, _path("ssl.cert.subject_dn"), priority=-1),
    "x509.issuer": FieldMap(None, _path("ssl.cert.issuer_dn"), priority=-1),
}


class RecogError(ValueError):
    """A Recog file we could not read (logged and skipped by ``load``)."""


@dataclass(slots=True)
class Param:
    pos: int
    name: str
    value: str | None


@dataclass(slots=True)
class Example:
    text: str
    expect: dict[str, str]


@dataclass(slots=True)
class Fingerprint:
    db: str  # file stem
    index: int  # position in its file (first match wins)
    pattern: str
    flags: int
    description: str
    params: list[Param]
    examples: list[Example]
    _compiled: Any = None  # regex.Pattern; False when it cannot be translated

    @property
    def id(self) -> str:
        return f"recog:{self.db}:{self.index}"

    def compiled(self) -> Any:
        if self._compiled is None:
            try:
                self._compiled = regex.compile(ruby_to_python(self.pattern),
                                               self.flags | regex.MULTILINE)
            except (regex.error, ValueError, OverflowError) as exc:
                log.debug("%s: pattern does not compile: %s", self.id, exc)
                self._compiled = False
        return self._compiled

    def match(self, text: str, timeout: float = MATCH_TIMEOUT) -> dict[str, str] | None:
        """The params this fingerprint extracts from ``text``, or None.
        Raises ``TimeoutError`` when the search runs out of time."""
        pat = self.compiled()
        if pat is False:
            return None
        hit = pat.search(text[:MAX_INPUT], timeout=timeout)
        if hit is None:
            return None
        out: dict[str, str] = {}
        for p in self.params:
            if p.pos == 0:
                v = p.value
            else:
                try:
                    v = hit.group(p.pos)
                except IndexError:
                    v = None
            if v is not None:
                out[p.name] = v
        for name, v in list(out.items()):
            if "{" in v:
                out[name] = _interpolate(v, out)
        return {k: c for k, v in out.items() if (c := _clean(v)) is not None}


def _interpolate(value: str, params: Mapping[str, str]) -> str:
    return _INTERP.sub(lambda m: params.get(m.group(1), "-"), value)


def _clean(s: str) -> str | None:
    s = "".join(ch for ch in s if ch.isprintable()).strip()
    return s[:MAX_VALUE] or None


def ruby_to_python(pattern: str) -> str:
    """Rewrite the Ruby-only parts of a Recog pattern for ``regex``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "h":
                out.append("0-9a-fA-F" if in_class else "[0-9a-fA-F]")
            elif nxt == "H" and not in_class:
                out.append("[^0-9a-fA-F]")
            elif nxt == "z" and not in_class:
                out.append(r"\Z")  # Python's \Z is Ruby's \z
            elif nxt == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is literal
                out.append(r"\]")
                i += 1
            continue
        elif ch == "(" and pattern.startswith("(?", i):
            # inline flags: Ruby's m is dot-all
            m = regex.match(r"\(\?([imx]*)(?:-([imx]*))?([:)])", pattern[i:])
            if m:
                on = m.group(1).replace("m", "s")
                off = (m.group(2) or "").replace("m", "s")
                out.append(f"(?{on}{'-' + off if m.group(2) is not None else ''}{m.group(3)}")
                i += m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(slots=True)
class RecogFile:
    name: str  # file stem
    path: Path
    matches: str
    protocol: str | None
    fingerprints: list[Fingerprint]


def _read_xml(path: Path) -> ET.Element:
    data = path.read_bytes()
    if len(data) > MAX_FILE:
        raise RecogError(f"{path}: larger than {MAX_FILE} bytes")
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise RecogError(f"{path}: DOCTYPE/ENTITY declarations are refused")
    try:
        return ET.fromstring(data, parser=ET.XMLParser())
    except ET.ParseError as exc:
        raise RecogError(f"{path}: {exc}") from None


def load_file(path: Path) -> RecogFile:
    root = _read_xml(path)
    if root.tag != "fingerprints":
        raise RecogError(f"{path}: not a Recog <fingerprints> file")
    fps: list[Fingerprint] = []
    for idx, fp in enumerate(root.iter("fingerprint")):
        flags = 0
        for f in (fp.get("flags") or "").split(","):
            flags |= _RECOG_FLAGS.get(f.strip(), 0)
        params = []
        for p in fp.iter("param"):
            try:
                pos = int(p.get("pos", "0"))
            except ValueError:
                continue
            params.append(Param(pos, p.get("name", ""), p.get("value")))
        examples = []
        for ex in fp.iter("example"):
            text = ex.text or ""
            attrs = dict(ex.attrib)
            if attrs.pop("_encoding", None) == "base64":
                try:
                    text = base64.b64decode(text).decode("latin-1")
                except ValueError:
                    continue
            attrs.pop("_filename", None)
            examples.append(Example(text, attrs))
        desc = fp.findtext("description") or ""
        fps.append(Fingerprint(path.stem, idx, fp.get("pattern", ""), flags,
                               " ".join(desc.split()), params, examples))
    # a few files (telnet_banners, smtp_ehlo, ...) name no key: their stem is the key
    matches = root.get("matches") or path.stem
    return RecogFile(path.stem, path, matches, root.get("protocol"), fps)


def recog_dirs(paths: Iterable[str | Path] | None = None) -> list[Path]:
    """Recog folders among ``paths`` (each a recog folder or a folder holding
    ``recog/``), by default those of ``$NETATLAS_FINGERPRINTS`` (colon-separated)."""
    if paths is None:
        env = os.environ.get(ENV_VAR, "")
        paths = [p for p in env.split(os.pathsep) if p]
    out: list[Path] = []
    for p in map(Path, paths):
        for cand in (p / "recog", p):
            if cand.is_dir() and any(cand.glob("*.xml")) and cand not in out:
                out.append(cand)
                break
    return out


@dataclass(slots=True)
class SelfTest:
    total: int = 0
    passed: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # id, example, why

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 1.0


@dataclass(slots=True)
class RecogStats:
    searches: int = 0
    timeouts: int = 0


class RecogDB:
    """All Recog files found; patterns compile on first use."""

    def __init__(self, files: list[RecogFile], timeout: float = MATCH_TIMEOUT,
                 product_names: Mapping[str, str] | None = None) -> None:
        self.files = files
        self.timeout = timeout
        self.by_key: dict[str, list[Fingerprint]] = {}
        for rf in files:
            self.by_key.setdefault(rf.matches, []).extend(rf.fingerprints)
        # casefolded Recog product -> our canonical spelling (vsFTPd -> vsftpd)
        self.product_names = {k.casefold(): v for k, v in (product_names or {}).items()}
        self.stats = RecogStats()

    @classmethod
    def load(cls, paths: Iterable[str | Path] | None = None,
             timeout: float = MATCH_TIMEOUT) -> RecogDB:
        files: list[RecogFile] = []
        for d in recog_dirs(paths):
            for path in sorted(d.glob("*.xml")):
                try:
                    files.append(load_file(path))
                except (RecogError, OSError) as exc:
                    log.warning("skipping Recog file: %s", exc)
        return cls(files, timeout=timeout)

    @property
    def rule_count(self) -> int:
        return sum(len(rf.fingerprints) for rf in self.files)

    def match(self, key: str, text: str) -> tuple[Fingerprint, dict[str, str]] | None:
        """First fingerprint of ``key`` matching ``text`` (Recog's order)."""
        for fp in self.by_key.get(key, ()):
            self.stats.searches += 1
            try:
                params = fp.match(text, self.timeout)
            except TimeoutError:
                self.stats.timeouts += 1
                log.warning("%s timed out", fp.id)
                continue
            if params is not None:
                return fp, params
        return None

    def candidates(self, result: GrabResult) -> list[Candidate]:
        out: list[Candidate] = []
        for key, fmap in MATCH_FIELDS.items():
            if key not in self.by_key:
                continue
            value = fmap.get(result.sections)
            for text in as_texts(value)[:8]:
                hit = self.match(key, text)
                if hit is not None:
                    out.append(self._candidate(hit[0], hit[1], fmap))
                    break
        return out

    def _candidate(self, fp: Fingerprint, p: Mapping[str, str], fmap: FieldMap) -> Candidate:
        product = p.get("service.product")
        if product:
            product = self.product_names.get(product.casefold(), product)
        cpes = [c for k in ("service.cpe23", "os.cpe23", "hw.cpe23") if (c := p.get(k))]
        os_name = p.get("os.product") or p.get("os.family")
        return Candidate(
            source="recog", kind="recog", rule_id=fp.id,
            service=fmap.service if product else None, product=product,
            version=p.get("service.version") if product else None,
            os=os_name, devicetype=p.get("os.device") or p.get("hw.device"),
            cpe=[_cpe_uri(c) for c in cpes], priority=fmap.priority,
            component=fmap.component,
        )

    def self_test(self) -> SelfTest:
        """Every ``<example>`` must match its own fingerprint with the values it lists."""
        rep = SelfTest()
        for rf in self.files:
            for fp in rf.fingerprints:
                for ex in fp.examples:
                    rep.total += 1
                    why = self._check(fp, ex)
                    if why is None:
                        rep.passed += 1
                    else:
                        rep.failures.append((fp.id, ex.text[:80], why))
        return rep

    def _check(self, fp: Fingerprint, ex: Example) -> str | None:
        if fp.compiled() is False:
            return "pattern does not compile"
        try:
            got = fp.match(ex.text, timeout=1.0)
        except TimeoutError:
            return "timeout"
        if got is None:
            return "no match"
        for k, want in ex.expect.items():
            if _clean(want) != got.get(k):
                return f"{k}: want {want!r}, got {got.get(k)!r}"
        return None


def _cpe_uri(cpe: str) -> str:
    """Recog writes 2.2 URIs; drop a trailing "-" / empty version as our CPEs do."""
    parts = cpe.split(":")
    while len(parts) > 4 and parts[-1] in ("", "-", "*"):
        parts.pop()
    return ":".join(parts)


def timed_load(paths: Iterable[str | Path] | None = None) -> tuple[RecogDB, float]:
    t0 = time.perf_counter()
    db = RecogDB.load(paths)
    return db, time.perf_counter() - t0
