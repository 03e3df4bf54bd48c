"""Turn a grab result into an Identification, from rule data only.

Sources of candidates: our rule files (indexed by field, so only the rules
whose field the result actually has are run); when installed, nmap's service
probes run over the captured probe responses; and, when the user has them
(``$NETATLAS_FINGERPRINTS`` or ``fingerprints=``), Recog's XML fingerprints and
Wappalyzer-format web technologies (an application with a version, e.g. Jenkins,
is secondary evidence, like our title/body rules). The most specific product
candidate wins (see ``Candidate.score``); others that agree with it, and
attribute-only rules (OS from a banner comment, tags), fill in what it left open.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from netatlas.identify.candidate import Candidate
from netatlas.identify.fields import resolve
from netatlas.identify.loadcache import cached, files_key
from netatlas.identify.nmap_probes import DEFAULT_PATH, NmapProbes, NmapResult
from netatlas.identify.nmap_probes import shared as shared_nmap
from netatlas.identify.ports import port_service
from netatlas.identify.recog import RecogDB, recog_dirs
from netatlas.identify.rules import (
    MATCH_TIMEOUT,
    Rule,
    RuleFile,
    RuleTimeout,
    load_rules,
    rule_files,
)
from netatlas.identify.wappalyzer import Wappalyzer, webapp_dirs
from netatlas.identify.webtech import rule_technologies
from netatlas.model import Endpoint, GrabResult, Identification

log = logging.getLogger(__name__)

NmapSetting = NmapProbes | str | Path | Literal["auto"] | None
# "auto": the folders of $NETATLAS_FINGERPRINTS; else folders holding recog/ and/or
# webappanalyzer/ (or those folders themselves); None: neither source.
FingerprintSetting = Iterable[str | Path] | Literal["auto"] | None


@dataclass(slots=True)
class EngineStats:
    identified: int = 0
    rule_runs: int = 0
    rule_timeouts: int = 0


class Identifier:
    """Loads rule sources once; ``identify`` is then pure and safe to call repeatedly.

    ``rule_paths``: rule files or folders (default: the packaged rules).
    ``nmap``: "auto" (use /usr/share/nmap/nmap-service-probes if present, loaded on
    first use), a path, a loaded ``NmapProbes``, or None to skip nmap.
    ``port_guess``: fall back to the port's well-known name (``source="port"``).
    ``fingerprints``: where Recog / Wappalyzer data live (see ``FingerprintSetting``),
    loaded on first use.
    """

    def __init__(self, rule_paths: Iterable[str | Path] | None = None,
                 nmap: NmapSetting = "auto", port_guess: bool = True,
                 timeout: float = MATCH_TIMEOUT,
                 fingerprints: FingerprintSetting = "auto") -> None:
        paths = [Path(p) for p in rule_paths] if rule_paths is not None else None
        self._rules_key = ("rules", files_key(rule_files(paths)))
        self.rule_files: list[RuleFile] = cached(self._rules_key, lambda: load_rules(paths))
        self.rules: list[Rule] = [r for rf in self.rule_files for r in rf.rules]
        self.by_field: dict[str, list[Rule]] = {}
        for r in self.rules:
            for f in r.fields:
                self.by_field.setdefault(f, []).append(r)
        self.aliases: dict[str, str] = {}
        for rf in self.rule_files:
            self.aliases.update(rf.aliases)
        self.servers = server_products(self.rules, self.aliases)
        self.port_guess = port_guess
        self.timeout = timeout
        self.stats = EngineStats()
        self._nmap_setting = nmap
        self._nmap: NmapProbes | None = nmap if isinstance(nmap, NmapProbes) else None
        self._nmap_loaded = isinstance(nmap, NmapProbes) or nmap is None
        self._lock = threading.Lock()
        self._fp_paths = None if fingerprints == "auto" else (
            [] if fingerprints is None else [Path(p) for p in fingerprints])
        self._fp_loaded = False
        self._recog: RecogDB | None = None
        self._wappalyzer: Wappalyzer | None = None

    # -- Recog / Wappalyzer ----------------------------------------------------------
    def _load_fingerprints(self) -> None:
        if self._fp_loaded:
            return
        with self._lock:
            if self._fp_loaded:
                return
            paths = self._fp_paths
            # recog's product names come from the rules: one entry per rule set too
            key = ("fingerprints", files_key([*recog_dirs(paths), *webapp_dirs(paths)]),
                   self.timeout, self._rules_key)
            self._recog, self._wappalyzer = cached(key, lambda: self._read_fingerprints(paths))
            self._fp_loaded = True

    def _read_fingerprints(self, paths: list[Path] | None,
                           ) -> tuple[RecogDB | None, Wappalyzer | None]:
        recog = RecogDB.load(paths, timeout=self.timeout)
        if recog.files:
            recog.product_names = _canonical_products(self.rules, self.aliases)
        return (recog if recog.files else None,
                Wappalyzer.load(paths, timeout=self.timeout))

    @property
    def recog(self) -> RecogDB | None:
        self._load_fingerprints()
        return self._recog

    @property
    def wappalyzer(self) -> Wappalyzer | None:
        self._load_fingerprints()
        return self._wappalyzer

    def technologies(self, http: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Web technologies in an http section: Wappalyzer's when its data is loaded,
        else the products our own http rules name (web server and application both)."""
        wap = self.wappalyzer
        if not http:
            return []
        return wap.technologies(http) if wap is not None else \
            rule_technologies(self.rules, http, self.timeout)

    # -- nmap --------------------------------------------------------------------
    @property
    def nmap(self) -> NmapProbes | None:
        if not self._nmap_loaded:
            with self._lock:
                if not self._nmap_loaded:
                    setting = self._nmap_setting
                    path = DEFAULT_PATH if setting == "auto" else Path(str(setting))
                    if setting == "auto" and self.timeout == MATCH_TIMEOUT:
                        self._nmap = shared_nmap(path)  # the copy the scheduler uses too
                    elif path.is_file():
                        try:
                            self._nmap = NmapProbes.load(path, timeout=self.timeout)
                        except OSError as exc:
                            log.warning("cannot read %s: %s", path, exc)
                    elif setting != "auto":
                        log.warning("nmap-service-probes not found at %s", path)
                    self._nmap_loaded = True
        return self._nmap

    # -- candidates --------------------------------------------------------------
    def candidates(self, result: GrabResult, ep: Endpoint | None = None) -> list[Candidate]:
        """Every conclusion any rule source reached (for ``explain`` and tests)."""
        out: list[Candidate] = []
        present: dict[str, Any] = {}
        for fname in self.by_field:
            value = resolve(result, ep, fname)
            if value is not None:
                present[fname] = value
        seen: set[str] = set()
        for fname in present:
            for rule in self.by_field[fname]:
                if rule.id in seen:
                    continue
                seen.add(rule.id)
                value = next(present[f] for f in rule.fields if f in present)
                self.stats.rule_runs += 1
                try:
                    cand = rule.apply(value, result.sections, timeout=self.timeout)
                except RuleTimeout:
                    self.stats.rule_timeouts += 1
                    log.warning("rule %s timed out on %s", rule.id, ep)
                    continue
                if cand is not None:
                    out.append(cand)
        nmap = self.nmap
        if nmap is not None:
            transport = ep.transport if ep is not None else "tcp"
            out.extend(self._from_nmap(r) for r in nmap.match(_responses(result), transport))
        recog = self.recog
        if recog is not None:
            out.extend(recog.candidates(result))
        http = result.sections.get("http")
        if self.wappalyzer is not None and isinstance(http, dict):
            out.extend(self._from_wappalyzer(http))
        return out

    def _from_wappalyzer(self, http: dict[str, Any]) -> list[Candidate]:
        """Applications shown with a version (Jenkins 2.426.1) name the endpoint more
        specifically than its web server, but as secondary evidence (priority -1,
        like our title/body rules): they win only when no primary rule names a product,
        and otherwise add their CPE. Libraries, languages and servers add nothing here;
        they stay in the technologies list."""
        wap = self._wappalyzer
        out: list[Candidate] = []
        if wap is None:
            return out
        for t in wap.technologies(http):
            tech = wap.techs.get(t["name"])
            if tech is None or not tech.is_application or not t["version"] \
                    or t["confidence"] < 50:
                continue
            out.append(Candidate(
                source="wappalyzer", kind="wappalyzer", rule_id=f"wappalyzer:{t['name']}",
                product=self.aliases.get(t["name"], t["name"]), version=t["version"],
                cpe=[t["cpe"]] if t["cpe"] else [], priority=-1))
        return out

    def _from_nmap(self, r: NmapResult) -> Candidate:
        """``rule_id`` names the probe whose reply matched and the line: nmap:<probe>:<n>."""
        product = self.aliases.get(r.product, r.product) if r.product else None
        version, info = r.version, r.info
        if version and is_version_range(version):
            # "2.2.X - 2.3.X" is nmap's guess from a behaviour, not a version: kept as info
            version, info = None, info or f"version {version}"
        return Candidate(
            source="nmap", kind="softmatch" if r.soft else "match",
            rule_id=f"nmap:{r.probe}:{r.line}", service=r.service, product=product,
            version=version, info=info, os=r.os, devicetype=r.devicetype, cpe=list(r.cpe),
        )

    # -- decision ----------------------------------------------------------------
    def identify(self, result: GrabResult, ep: Endpoint | None = None) -> Identification:
        self.stats.identified += 1
        return decide(self.candidates(result, ep), result, ep, self.port_guess,
                      self.servers)


_RANGE = re.compile(r"(?:^|[.\s])[xX](?:$|[.\s])|\s-\s|^[<>]")


def is_version_range(version: str) -> bool:
    """nmap's version guesses: "2.2.X - 2.3.X", "3.X - 4.X", "5.0 - 5.5", "< 1.2"."""
    return bool(_RANGE.search(version))


def _canonical_products(rules: Iterable[Rule], aliases: dict[str, str]) -> dict[str, str]:
    """Names another source may spell differently (vsFTPd, exim) -> our spelling."""
    names = dict(aliases)
    for r in rules:
        p = r.templates.get("product")
        if p and "$" not in p and "{" not in p:
            names.setdefault(p, p)
    return names


def _responses(result: GrabResult) -> dict[str, bytes]:
    if result.responses:
        return dict(result.responses)
    if not result.data:
        return {}
    # No per-probe capture: the primary banner is the greeting, or for HTTP the
    # reply to the grabber's GET.
    return {"GetRequest" if "http" in result.sections else "NULL": result.data}


def _norm(product: str | None) -> str:
    return (product or "").casefold()


def _versions_agree(a: str | None, b: str | None) -> bool:
    """Unknown agrees with anything; "9.2p1" agrees with nmap's "9.2p1 Debian 2"."""
    if a is None or b is None or a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return long_.startswith(short) and not long_[len(short)].isalnum() \
        and long_[len(short)] != "."


def _merge_cpes(target: list[str], extra: Iterable[str]) -> None:
    for c in extra:
        if c not in target:
            target.append(c)


THIRD_PARTY = ("recog", "wappalyzer")


def _cpe_head(cpe: str) -> str:
    """``cpe:/o:debian:debian_linux:12`` -> ``cpe:/o:debian:debian_linux``."""
    return ":".join(cpe.split(":")[:4])


def _prune_cpes(cpes: list[str]) -> list[str]:
    """Drop a CPE when a longer one (same prefix, more components) is also listed."""
    return [c for c in cpes if not any(o != c and o.startswith(c + ":") for o in cpes)]


APP_SOURCES = ("netatlas", "wappalyzer")


def _most_specific(products: list[Candidate],
                   servers: frozenset[str] = frozenset()) -> Candidate | None:
    """The best-scored product, except that an application never loses to the web
    server or framework it runs on (Jupyter over Tornado, MLflow over uvicorn), whatever
    their priorities: ``servers`` are the products our ``http.server`` rules name. The
    server stays in ``http.technologies``."""
    if not products:
        return None
    # Recog's and nmap's names are mostly server banners under other spellings ("HTTPD",
    # "Tomcat"): only our rules and Wappalyzer's applications name an application
    apps = [c for c in products
            if c.source in APP_SOURCES and _norm(c.product) not in servers]
    return max(apps or products, key=lambda c: c.score())


def server_products(rules: Iterable[Rule], aliases: dict[str, str]) -> frozenset[str]:
    """Products that ``http.yaml`` (web servers and frameworks) names from the HTTP
    ``Server`` header alone: the layer an application runs on (casefolded, with the other
    sources' spellings). Its tagged rules name services of their own (MinIO's storage, a
    CDN), and a proxy is not a web server."""
    names = {_norm(r.templates.get("product")) for r in rules
             if r.source == "http" and r.fields == ("http.server",) and not r.tags
             and r.templates.get("service") == "http" and r.templates.get("product")}
    names |= {_norm(k) for k, v in aliases.items() if _norm(v) in names}
    return frozenset(n for n in names if n and "$" not in n and "{" not in n)


def decide(cands: list[Candidate], result: GrabResult, ep: Endpoint | None,
           port_guess: bool = True, servers: frozenset[str] = frozenset()) -> Identification:
    ident = Identification()
    tags: list[str] = []
    cpes: list[str] = []
    products = [c for c in cands if c.product and not c.component]
    winner = _most_specific(products, servers)
    if winner is not None:
        ident.product, ident.version = winner.product, winner.version
        ident.info, ident.os, ident.devicetype = winner.info, winner.os, winner.devicetype
        ident.source = winner.source
        _merge_cpes(cpes, winner.cpe)
        tags.extend(winner.tags)
    # Recog / Wappalyzer come last: they only fill what our rules and nmap left open
    for c in sorted(cands, key=lambda c: (c.source not in THIRD_PARTY, c.score()),
                    reverse=True):
        if c is winner:
            continue
        same = (winner is not None and _norm(c.product) == _norm(winner.product)
                and _versions_agree(c.version, ident.version))
        if c.source == "nmap" and not same:
            continue  # nmap's other guesses compete with the winner; they add nothing
        layer = winner is not None and _norm(c.product) in servers \
            and _norm(winner.product) not in servers
        if c.product and not same and not c.component and c.priority >= 0 and not layer:
            continue  # a rival primary identification (Redis vs Valkey): it lost
        if same or not c.product:
            # agrees with the winner, or only describes (OS, tags): fill the gaps
            ident.version = ident.version or c.version
            ident.info = ident.info or c.info
            ident.os = ident.os or c.os
            ident.devicetype = ident.devicetype or c.devicetype
        extra = c.cpe
        if c.source == "nmap" and any(x.startswith("cpe:/a:") for x in cpes):
            # same product under nmap's vendor spelling (igor_sysoev:nginx): keep
            # only what it adds about the OS or hardware
            extra = [x for x in extra if not x.startswith("cpe:/a:")]
        elif c.source in THIRD_PARTY:
            # Recog / Wappalyzer: the same product under their vendor spelling
            # (vsftpd_project:vsftpd) or a product/OS already named adds nothing
            if same and any(x.startswith("cpe:/a:") for x in cpes):
                extra = [x for x in extra if not x.startswith("cpe:/a:")]
            known = {_cpe_head(x) for x in cpes}
            extra = [x for x in extra if _cpe_head(x) not in known]
        _merge_cpes(cpes, extra)  # other own-rule products were observed too (PHP, ...)
        tags.extend(c.tags)
    service, source = _service(winner, cands, result, ep, port_guess, tags)
    ident.probe = _probe(winner, cands)
    ident.service = service
    ident.source = ident.source or source
    ident.cpe = _prune_cpes(cpes)
    ident.tags = sorted(set(tags))
    return ident


def _probe(winner: Candidate | None, cands: list[Candidate]) -> str | None:
    """The nmap probe behind the identification: the winner's, else that of an nmap
    match that agrees with it (same product), else of the nmap match naming the service."""
    nmap = [c for c in cands if c.source == "nmap"]
    if winner is not None and winner.source != "nmap":
        nmap = [c for c in nmap if _norm(c.product) == _norm(winner.product)]
    elif winner is not None:
        nmap = [winner]
    best = max(nmap, key=lambda c: c.score(), default=None)
    return best.rule_id.split(":")[1] if best is not None else None


def _strip_ssl(service: str | None, tags: list[str]) -> str | None:
    if service and service.startswith("ssl/"):
        tags.append("tls")
        return service[4:] or None
    return service


def _service(winner: Candidate | None, cands: list[Candidate], result: GrabResult,
             ep: Endpoint | None, port_guess: bool,
             tags: list[str]) -> tuple[str | None, str | None]:
    if winner is not None and winner.service:
        return _strip_ssl(winner.service, tags), winner.source
    if result.service:
        return _strip_ssl(result.service, tags), "grab"
    named = [c for c in cands if c.service and not c.component]
    if named:
        best = max(named, key=lambda c: c.score())
        return _strip_ssl(best.service, tags), best.source
    if port_guess and ep is not None:
        guess = port_service(ep.port, ep.transport)
        if guess:
            return guess, "port"
    return None, None


_default: Identifier | None = None
_default_lock = threading.Lock()


def default_identifier() -> Identifier:
    """A process-wide Identifier over the packaged rules and the installed nmap."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Identifier()
        return _default


def identify(result: GrabResult, ep: Endpoint | None = None) -> Identification:
    return default_identifier().identify(result, ep)


def technologies(http: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``[{name, version, categories, cpe, confidence}]`` for an http section."""
    return default_identifier().technologies(http)


def explain(result: GrabResult, ep: Endpoint | None = None) -> list[dict[str, Any]]:
    return [c.as_dict() for c in default_identifier().candidates(result, ep)]
