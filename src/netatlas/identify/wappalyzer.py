"""Web technologies from a Wappalyzer-format database (technologies/*.json), read in place.

Applied to a record's ``http`` section: response headers, cookies (from
``set-cookie``), the html (``html`` patterns, and ``scripts`` over the inline scripts
it contains), ``<script src>`` and ``<meta>`` tags taken from it, and the URL when the
section has one. ``dom``/``js``/``dns``/``xhr`` need a browser or more requests and
are ignored.

Patterns are JavaScript regexes, matched case-insensitively, with ``\\;version:\\1``
and ``\\;confidence:N`` suffixes; those Python cannot take after a small translation
are counted and skipped. Matching is made cheap by indexing header, cookie and meta
patterns by name and by a literal pre-filter on html-like patterns (a pattern whose
required literal is absent from the page is never run); every search is time-bounded
on capped input.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

log = logging.getLogger(__name__)

ENV_VAR = "NETATLAS_FINGERPRINTS"
MAX_HTML = 64 * 1024  # chars of the page patterns may see
MAX_VALUE = 4 * 1024  # chars of one header / cookie / meta value
MATCH_TIMEOUT = 0.05
MAX_FILE = 32 * 1024 * 1024

# Categories whose members are applications: one with a version names the endpoint
# more specifically than the web server in front of it (Jenkins, Grafana, Gitea).
APP_CATEGORIES = frozenset({
    1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 13, 20, 21, 29, 30, 34, 37, 38, 39, 44, 45, 46, 47,
    48, 50, 53, 55, 60, 112,
})

_SCRIPT_SRC = re.compile(r"<script[^>]{0,512}?\ssrc\s*=\s*[\"']?([^\"'\s>]{1,2048})", re.I)
_META = re.compile(r"<meta\s[^>]{0,2048}>", re.I)
_ATTR = re.compile(r"""([\w:\-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]{0,512}\ssrc\s*=)[^>]{0,512}>(.*?)</script>",
                            re.I | re.S)
_COOKIE = re.compile(r"(?:^|[,;]\s*|\n)([^=;,\s]+)=([^;,\n]*)")
_VERSION_TERNARY = re.compile(r"\\(\d)\?([^:]*):(.*)")


@dataclass(slots=True)
class Pattern:
    text: str  # the regex source as published
    version: str | None  # template: \1, \1?a:b
    confidence: int
    literal: str  # casefolded text every match contains ("" = unknown)
    compiler: _Compiler

    def search(self, text: str, timeout: float, folded: str | None = None) -> Any:
        """``folded``: ``text.casefold()`` when the caller has it (long pages)."""
        if self.literal and self.literal not in (folded if folded is not None
                                                 else text.casefold()):
            return None
        compiled = self.compiler.compile(self.text)
        return compiled.search(text, timeout=timeout) if compiled is not False else None


@dataclass(slots=True)
class Technology:
    name: str
    cats: tuple[int, ...]
    cpe: str | None
    implies: tuple[tuple[str, int], ...]
    requires: tuple[str, ...]
    excludes: tuple[str, ...]
    oss: bool
    saas: bool
    headers: dict[str, list[Pattern]] = field(default_factory=dict)
    cookies: dict[str, list[Pattern]] = field(default_factory=dict)
    meta: dict[str, list[Pattern]] = field(default_factory=dict)
    html: list[Pattern] = field(default_factory=list)
    scripts: list[Pattern] = field(default_factory=list)
    script_src: list[Pattern] = field(default_factory=list)
    url: list[Pattern] = field(default_factory=list)

    @property
    def is_application(self) -> bool:
        return bool(APP_CATEGORIES.intersection(self.cats)) and (self.oss or not self.saas)


@dataclass(slots=True)
class LoadStats:
    files: int = 0
    technologies: int = 0
    patterns: int = 0
    # of the distinct patterns compiled so far (all of them after compile_all()):
    translated: int = 0  # needed a JS -> Python rewrite
    untranslatable: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def js_to_python(src: str) -> str:
    """Rewrite the JavaScript-only parts of a Wappalyzer regex."""
    out: list[str] = []
    i, n = 0, len(src)
    in_class = False
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n:
            nxt = src[i + 1]
            if nxt == "/":
                out.append("/")
            elif nxt == "d" and in_class:
                out.append("0-9")  # \d inside a class means digits only, as in JS
            else:
                out.append(src[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            elif ch == "[":
                out.append("\\[")  # Python warns on a nested-set-looking "["
                i += 1
                continue
        elif ch == "[":
            if src.startswith("[^]", i):
                out.append(r"[\s\S]")  # JS: any character
                i += 3
                continue
            if src.startswith("[]", i):
                out.append("(?!)")  # JS: matches nothing
                i += 2
                continue
            in_class = True
            out.append(ch)
            i += 1
            if i < n and src[i] == "^":
                out.append("^")
                i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _literal(src: str) -> str:
    """The longest plain run every match must contain, or "" when unsure."""
    if "|" in src:
        return ""
    best = ""
    depth = 0
    i = 0
    run: list[str] = []
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            # an escaped punctuation char is literal; a class escape ends the run
            if i + 1 < len(src) and src[i + 1] in "xupPNck0123456789":
                return ""  # a multi-char escape (\x41, \u00a9, \1): not worth parsing
            if i + 1 < len(src) and not src[i + 1].isalnum():
                run.append(src[i + 1])
            else:
                best = max(best, "".join(run), key=len)
                run = []
            i += 2
            continue
        if ch in "([{":
            if ch == "{" and depth == 0 and run:
                run.pop()  # {n,m} quantifies the char before it
            depth += 1
        if ch in ")]}":
            depth -= 1
            best = max(best, "".join(run), key=len)
            run = []
            i += 1
            continue
        if depth > 0 or ch in ".^$":
            best = max(best, "".join(run), key=len)
            run = []
        elif ch in "?*+":
            # the quantifier makes the previous char optional: drop it from the run
            if run:
                run.pop()
            best = max(best, "".join(run), key=len)
            run = []
        else:
            run.append(ch)
        i += 1
    best = max(best, "".join(run), key=len)
    return best.casefold() if len(best) >= 3 else ""


class _Compiler:
    """Compiles each distinct pattern once, on first use (loading stays fast)."""

    def __init__(self, stats: LoadStats) -> None:
        self.stats = stats
        self.cache: dict[str, Any] = {}
        self.lock = threading.Lock()

    def compile(self, src: str) -> Any:
        compiled = self.cache.get(src)
        if compiled is not None:
            return compiled
        py = js_to_python(src)
        try:
            compiled = regex.compile(py, regex.IGNORECASE | regex.V0)
        except (regex.error, ValueError, OverflowError) as exc:
            compiled = False
            failure: tuple[str, str] | None = (src[:80], str(exc))
        else:
            failure = None
        with self.lock:
            if src not in self.cache:
                self.cache[src] = compiled
                self.stats.translated += py != src
                if failure is not None:
                    self.stats.untranslatable += 1
                    self.stats.failures.append(failure)
        return compiled

    def pattern(self, tech: str, raw: Any) -> Pattern | None:
        if not isinstance(raw, str):
            return None
        self.stats.patterns += 1
        parts = raw.split("\\;")
        src, version, confidence = parts[0], None, 100
        for extra in parts[1:]:
            key, _, val = extra.partition(":")
            if key == "version":
                version = val
            elif key == "confidence":
                confidence = _int(val, 100)
        return Pattern(src, version, confidence, _literal(src), self)

    def many(self, tech: str, raw: Any) -> list[Pattern]:
        items = raw if isinstance(raw, list) else [raw]
        return [p for p in (self.pattern(tech, x) for x in items) if p is not None]

    def keyed(self, tech: str, raw: Any) -> dict[str, list[Pattern]]:
        out: dict[str, list[Pattern]] = {}
        if isinstance(raw, Mapping):
            for k, v in raw.items():
                pats = self.many(tech, v)
                if pats:
                    out[str(k).lower()] = pats
        return out


def _int(text: str, default: int) -> int:
    return int(text) if text.strip().isdigit() else default


def _names(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    return [x for x in raw if isinstance(x, str)] if isinstance(raw, list) else []


def _implies(raw: Any) -> tuple[tuple[str, int], ...]:
    out = []
    for item in _names(raw):
        name, _, rest = item.partition("\\;")
        conf = 100
        if rest.startswith("confidence:"):
            conf = _int(rest.split(":", 1)[1], 100)
        out.append((name, conf))
    return tuple(out)


def webapp_dirs(paths: Iterable[str | Path] | None = None) -> list[Path]:
    """Wappalyzer-format folders (holding ``technologies/``) among ``paths``, each the
    folder itself or one holding ``webappanalyzer/``; default ``$NETATLAS_FINGERPRINTS``."""
    if paths is None:
        env = os.environ.get(ENV_VAR, "")
        paths = [p for p in env.split(os.pathsep) if p]
    out: list[Path] = []
    for p in map(Path, paths):
        for cand in (p / "webappanalyzer", p / "wappalyzer", p):
            if (cand / "technologies").is_dir() and cand not in out:
                out.append(cand)
                break
    return out


def _read_json(path: Path) -> Any:
    if path.stat().st_size > MAX_FILE:
        raise ValueError(f"{path}: larger than {MAX_FILE} bytes")
    return json.loads(path.read_text(encoding="utf-8"))


class Wappalyzer:
    """A loaded technology set; ``technologies(http_section)`` is pure."""

    def __init__(self, techs: dict[str, Technology], categories: dict[int, str],
                 stats: LoadStats, path: Path | None = None,
                 timeout: float = MATCH_TIMEOUT) -> None:
        self.techs = techs
        self.categories = categories
        self.stats = stats
        self.path = path
        self.timeout = timeout
        self.timeouts = 0
        self.by_header: dict[str, list[tuple[Technology, list[Pattern]]]] = {}
        self.by_cookie: dict[str, list[tuple[Technology, list[Pattern]]]] = {}
        self.by_meta: dict[str, list[tuple[Technology, list[Pattern]]]] = {}
        self.with_html = [t for t in techs.values() if t.html or t.scripts]
        self.with_src = [t for t in techs.values() if t.script_src]
        self.with_url = [t for t in techs.values() if t.url]
        for t in techs.values():
            for idx, src in ((self.by_header, t.headers), (self.by_cookie, t.cookies),
                             (self.by_meta, t.meta)):
                for k, pats in src.items():
                    idx.setdefault(k, []).append((t, pats))

    @classmethod
    def load(cls, paths: Iterable[str | Path] | None = None,
             timeout: float = MATCH_TIMEOUT) -> Wappalyzer | None:
        """The first Wappalyzer-format folder found, or None."""
        for d in webapp_dirs(paths):
            try:
                return cls.load_dir(d, timeout)
            except (OSError, ValueError) as exc:
                log.warning("cannot read Wappalyzer data in %s: %s", d, exc)
        return None

    @classmethod
    def load_dir(cls, folder: Path, timeout: float = MATCH_TIMEOUT) -> Wappalyzer:
        stats = LoadStats()
        comp = _Compiler(stats)
        categories: dict[int, str] = {}
        cat_file = folder / "categories.json"
        if cat_file.is_file():
            for k, v in _read_json(cat_file).items():
                if isinstance(v, Mapping) and str(k).isdigit():
                    categories[int(k)] = str(v.get("name", k))
        techs: dict[str, Technology] = {}
        for path in sorted((folder / "technologies").glob("*.json")):
            stats.files += 1
            data = _read_json(path)
            if not isinstance(data, Mapping):
                continue
            for name, d in data.items():
                if isinstance(d, Mapping):
                    techs[name] = cls._tech(comp, str(name), d)
        stats.technologies = len(techs)
        if stats.untranslatable:
            log.info("%s: %d of %d patterns could not be translated to Python", folder,
                     stats.untranslatable, stats.patterns)
        return cls(techs, categories, stats, folder, timeout)

    @staticmethod
    def _tech(comp: _Compiler, name: str, d: Mapping[str, Any]) -> Technology:
        cats = tuple(c for c in d.get("cats", []) if isinstance(c, int))
        cpe = d.get("cpe") if isinstance(d.get("cpe"), str) else None
        t = Technology(name, cats, cpe, _implies(d.get("implies")),
                       tuple(_names(d.get("requires"))), tuple(_names(d.get("excludes"))),
                       bool(d.get("oss")), bool(d.get("saas")))
        t.headers = comp.keyed(name, d.get("headers"))
        t.cookies = comp.keyed(name, d.get("cookies"))
        t.meta = comp.keyed(name, d.get("meta"))
        if "html" in d:
            t.html = comp.many(name, d["html"])
        if "scripts" in d:
            t.scripts = comp.many(name, d["scripts"])
        if "scriptSrc" in d:
            t.script_src = comp.many(name, d["scriptSrc"])
        if "url" in d:
            t.url = comp.many(name, d["url"])
        return t

    @property
    def rule_count(self) -> int:
        return self.stats.technologies

    def compile_all(self) -> LoadStats:
        """Compile every pattern now (for stats and tests); returns the load stats."""
        for t in self.techs.values():
            for pats in (*t.headers.values(), *t.cookies.values(), *t.meta.values(),
                         t.html, t.scripts, t.script_src, t.url):
                for p in pats:
                    p.compiler.compile(p.text)
        return self.stats

    # -- matching -----------------------------------------------------------------
    def _run(self, pat: Pattern, text: str, folded: str | None) -> Any:
        try:
            return pat.search(text, self.timeout, folded)
        except TimeoutError:
            self.timeouts += 1
            log.warning("Wappalyzer pattern timed out: %.60s", pat.text)
            return None

    def technologies(self, http: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``[{name, version, categories, cpe, confidence}]`` found in an http section."""
        found: dict[str, tuple[str | None, int]] = {}

        def hit(t: Technology, pats: list[Pattern], texts: list[str],
                folded: list[str] | None = None) -> None:
            for pat in pats:
                for i, text in enumerate(texts):
                    m = self._run(pat, text, folded[i] if folded else None)
                    if m is not None:
                        _add(found, t.name, _version(pat.version, m), pat.confidence)
                        break

        headers = _headers(http)
        for hname, value in headers.items():
            for t, pats in self.by_header.get(hname, ()):
                hit(t, pats, [value])
        for cname, value in _cookies(headers.get("set-cookie", "")).items():
            for t, pats in self.by_cookie.get(cname, ()):
                hit(t, pats, [value])
        html = http.get("html")
        html = html[:MAX_HTML] if isinstance(html, str) else ""
        if html:
            folded = html.casefold()
            # inline scripts are searched as one text: one search per pattern
            inline = "\n".join(_INLINE_SCRIPT.findall(html)[:64])[:MAX_HTML]
            inline_folded = inline.casefold()
            for t in self.with_html:
                hit(t, t.html, [html], [folded])
                if inline:
                    hit(t, t.scripts, [inline], [inline_folded])
            srcs = list(dict.fromkeys(m.group(1) for m in _SCRIPT_SRC.finditer(html)))[:64]
            if srcs:
                srcs_folded = [x.casefold() for x in srcs]
                joined = "\n".join(srcs_folded)
                for t in self.with_src:
                    # a literal absent from every src rules the pattern out at once
                    pats = [p for p in t.script_src if not p.literal or p.literal in joined]
                    if pats:
                        hit(t, pats, srcs, srcs_folded)
            for mname, content in _metas(html).items():
                for t, pats in self.by_meta.get(mname, ()):
                    hit(t, pats, [content])
        url = http.get("url")
        if isinstance(url, str) and url:
            for t in self.with_url:
                hit(t, t.url, [url[:MAX_VALUE]])
        self._resolve(found)
        return [self._describe(name, v, c) for name, (v, c) in sorted(found.items())]

    def _resolve(self, found: dict[str, tuple[str | None, int]]) -> None:
        """Add what the found technologies imply; drop excluded / unmet-requirement ones."""
        todo = list(found)
        while todo:
            t = self.techs.get(todo.pop())
            if t is None:
                continue
            for name, conf in t.implies:
                if name not in found and name in self.techs:
                    found[name] = (None, min(conf, found[t.name][1]))
                    todo.append(name)
        for name in list(found):
            t = self.techs.get(name)
            if t is None:
                continue
            if t.requires and not any(r in found for r in t.requires):
                del found[name]
        for name in list(found):
            t = self.techs.get(name)
            if t is not None:
                for ex in t.excludes:
                    found.pop(ex, None)

    def _describe(self, name: str, version: str | None, conf: int) -> dict[str, Any]:
        t = self.techs[name]
        return {
            "name": name, "version": version,
            "categories": [self.categories.get(c, str(c)) for c in t.cats],
            "cpe": cpe_uri(t.cpe, version) if t.cpe else None,
            "confidence": conf,
        }


def _add(found: dict[str, tuple[str | None, int]], name: str, version: str | None,
         conf: int) -> None:
    old_v, old_c = found.get(name, (None, 0))
    # the longest version seen is the most precise one
    v = version if version and (not old_v or len(version) > len(old_v)) else old_v
    found[name] = (v, min(100, old_c + conf))


def _version(template: str | None, m: Any) -> str | None:
    if not template:
        return None
    tern = _VERSION_TERNARY.fullmatch(template)
    if tern:
        try:
            g = m.group(int(tern.group(1)))
        except IndexError:
            g = None
        template = tern.group(2) if g else tern.group(3)

    def group(x: re.Match[str]) -> str:
        try:
            return m.group(int(x.group(1))) or ""
        except IndexError:
            return ""

    v = re.sub(r"\\(\d)", group, template).strip()
    v = "".join(ch for ch in v if ch.isprintable())[:64]
    return v or None


def _headers(http: Mapping[str, Any]) -> dict[str, str]:
    raw = http.get("headers")
    out: dict[str, str] = {}
    if isinstance(raw, Mapping):
        for k, v in list(raw.items())[:256]:
            if isinstance(k, str) and isinstance(v, str):
                out[k.lower()] = v[:MAX_VALUE]
    return out


def _cookies(set_cookie: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _COOKIE.finditer(set_cookie[:MAX_VALUE]):
        name = m.group(1).lower()
        if name not in ("path", "domain", "expires", "max-age", "samesite"):
            out.setdefault(name, m.group(2))
    return out


def _metas(html: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in _META.findall(html)[:128]:
        attrs = {a.lower(): b or c or d for a, b, c, d in _ATTR.findall(tag)}
        name = attrs.get("name") or attrs.get("property") or attrs.get("http-equiv")
        if name and "content" in attrs:
            out.setdefault(name.lower(), attrs["content"][:MAX_VALUE])
    return out


def cpe_uri(cpe23: str, version: str | None) -> str:
    """``cpe:2.3:a:grafana:grafana:*:...`` -> ``cpe:/a:grafana:grafana[:version]``."""
    parts = cpe23.split(":")
    if cpe23.startswith("cpe:/"):
        base = cpe23
    elif len(parts) >= 5 and parts[0] == "cpe" and parts[1] == "2.3":
        base = f"cpe:/{parts[2]}:{parts[3]}:{parts[4]}"
    else:
        return cpe23
    return f"{base}:{version}" if version and regex.fullmatch(r"[\w.\-+~]+", version) \
        else base
