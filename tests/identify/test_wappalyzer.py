"""Wappalyzer-format technologies read in place, applied to http sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netatlas.identify import Identifier, list_sources
from netatlas.identify.wappalyzer import Wappalyzer, cpe_uri, js_to_python, webapp_dirs
from netatlas.model import Endpoint, GrabResult

FP = Path(__file__).resolve().parents[2] / ".." / "shared" / "fingerprints"
pytestmark = pytest.mark.skipif(not (FP / "webappanalyzer" / "technologies").is_dir(),
                                reason=f"Wappalyzer-format data not found at {FP}/webappanalyzer")

JENKINS_HTML = (
    '<!DOCTYPE html><html><head><title>Dashboard [Jenkins]</title></head><body>'
    '<div class="page-footer"><span class="jenkins_ver"><a href="https://jenkins.io/">'
    'Jenkins ver. 2.426.1</a></span></div></body></html>'
)
GRAFANA_HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Grafana</title>'
    '<base href="/"></head><body><div id="reactRoot"></div><script nonce="">\n'
    'window.grafanaBootData = {"user":{},"settings":{"buildInfo":{"hideVersion":false,'
    '"latestVersion":"10.2.3","version":"10.2.2","commit":"161e3cac5075540918e3a39004f2364'
    'ad104d5bb"}}};\n</script></body></html>'
)
WORDPRESS_HTML = (
    '<html><head><meta name="generator" content="WordPress 6.4.2" />'
    '<script src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.1"></script></head></html>'
)


@pytest.fixture(scope="module")
def wap() -> Wappalyzer:
    w = Wappalyzer.load([FP])
    assert w is not None
    return w


def names(techs: list[dict]) -> dict[str, str | None]:
    return {t["name"]: t["version"] for t in techs}


def _compiled(w: Wappalyzer) -> int:
    """How many distinct patterns the loaded data has compiled so far."""
    caches = {id(p.compiler): p.compiler.cache for t in w.techs.values()
              for p in [*t.html, *t.scripts, *t.script_src, *t.url,
                        *(q for d in (t.headers, t.cookies, t.meta) for ps in d.values()
                          for q in ps)]}
    return sum(len(c) for c in caches.values())


def test_load_counts_and_compiles_nothing() -> None:
    w = Wappalyzer.load([FP])
    assert w is not None
    assert _compiled(w) == 0  # what keeps loading quick: patterns compile on first use
    on_disk = sum(len(json.loads(p.read_text()))
                  for p in (FP / "webappanalyzer" / "technologies").glob("*.json"))
    assert w.rule_count == on_disk > 7000
    assert len(w.categories) > 100
    stats = w.compile_all()
    assert stats.patterns > 7000
    assert stats.untranslatable <= stats.patterns * 0.05


def test_nginx_from_server_header(wap: Wappalyzer) -> None:
    t = wap.technologies({"headers": {"server": "nginx/1.22.1"}})
    nginx = next(x for x in t if x["name"] == "Nginx")
    assert nginx["version"] == "1.22.1"
    assert nginx["cpe"] == "cpe:/a:f5:nginx:1.22.1"
    assert "Web servers" in nginx["categories"]


def test_applications_from_html(wap: Wappalyzer) -> None:
    got = names(wap.technologies({"headers": {"server": "Jetty(10.0.18)"},
                                  "html": JENKINS_HTML}))
    assert got["Jenkins"] == "2.426.1"
    assert got["Jetty"] == "10.0.18"
    assert "Java" in got  # implied by Jenkins
    got = names(wap.technologies({"html": GRAFANA_HTML}))
    assert got["Grafana"] == "10.2.2"
    got = names(wap.technologies({"html": WORDPRESS_HTML}))
    assert got["WordPress"] == "6.4.2"


def test_cookies_and_headers(wap: Wappalyzer) -> None:
    got = names(wap.technologies({"headers": {
        "set-cookie": "i_like_gitea=0123abcd; Path=/; HttpOnly, _csrf=xyz; Path=/",
        "x-powered-by": "PHP/8.2.7"}}))
    assert "Gitea" in got
    assert got["PHP"] == "8.2.7"


@pytest.mark.timeout(30)  # a hang guard: without the bound this never ends
def test_nothing_on_empty_or_hostile_section(wap: Wappalyzer) -> None:
    assert wap.technologies({}) == []
    assert wap.technologies({"headers": {"server": 5, 7: "x"}, "html": None}) == []
    big = {"headers": {"server": "x" * 1_000_000}, "html": "<" * 2_000_000}
    wap.technologies(big)  # patterns see MAX_HTML / MAX_VALUE of it (the mark: no hang)


def test_prefilter_loses_nothing(wap: Wappalyzer) -> None:
    """The literal pre-filter must not hide a match the full scan would find."""
    for html in (JENKINS_HTML, GRAFANA_HTML, WORDPRESS_HTML):
        brute = set()
        for t in wap.techs.values():
            for p in t.html:
                c = p.compiler.compile(p.text)
                if c is not False and c.search(html, timeout=1.0):
                    brute.add(t.name)
        found = {x["name"] for x in wap.technologies({"html": html})}
        assert brute <= found
    srcs = ["https://cdn.jsdelivr.net/npm/vue@3.3.4/dist/vue.global.prod.js",
            "/static/js/react-dom.production.min.js", "https://www.googletagmanager.com/gtag/js",
            "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
            "https://static.hotjar.com/c/hotjar-123.js?sv=6", "/_next/static/chunks/main.js"]
    html = "".join(f'<script src="{s}"></script>' for s in srcs)
    brute = set()
    for t in wap.techs.values():
        for p in t.script_src:
            c = p.compiler.compile(p.text)
            if c is not False and any(c.search(s, timeout=1.0) for s in srcs):
                brute.add(t.name)
    assert len(brute) >= 4
    assert brute <= {x["name"] for x in wap.technologies({"html": html})}


def test_each_pattern_compiles_once(wap: Wappalyzer) -> None:
    """What kept a record cheap: the patterns a page needs compile on the first record,
    and the next 20 records compile nothing and give the same answer."""
    sec = {"headers": {"server": "nginx/1.22.1", "x-powered-by": "PHP/8.2.7",
                       "content-type": "text/html"},
           "html": (JENKINS_HTML + GRAFANA_HTML + WORDPRESS_HTML) * 20}
    first = wap.technologies(sec)  # compile what this page needs
    compiled = _compiled(wap)
    assert compiled > 0
    for _ in range(20):
        assert wap.technologies(sec) == first
    assert _compiled(wap) == compiled


def test_js_translation_and_cpe() -> None:
    assert js_to_python(r"a[^]b\/c") == r"a[\s\S]b/c"
    assert js_to_python(r"x[]y") == "x(?!)y"
    assert js_to_python(r"[\d.]+") == r"[0-9.]+"
    assert cpe_uri("cpe:2.3:a:grafana:grafana:*:*:*:*:*:*:*:*", "10.2.2") == \
        "cpe:/a:grafana:grafana:10.2.2"
    assert cpe_uri("cpe:2.3:a:grafana:grafana:*:*:*:*:*:*:*:*", "1 2") == \
        "cpe:/a:grafana:grafana"


@pytest.mark.timeout(30)  # a hang guard: without the bound this never ends
def test_catastrophic_pattern_stopped(tmp_path: Path) -> None:
    (tmp_path / "technologies").mkdir()
    (tmp_path / "technologies" / "a.json").write_text(json.dumps({
        "Evil": {"cats": [1], "html": "^(a|aa)+$"},
        "Fine": {"cats": [1], "html": "a+b\\;version:1"},
    }))
    w = Wappalyzer.load([tmp_path], timeout=0.05)
    assert w is not None
    got = names(w.technologies({"html": "a" * 60 + "b"}))  # 2^30 steps unbounded
    assert w.timeouts == 1  # the time-out stopped it (the mark guards a hang)
    assert got == {"Fine": "1"}


def ep(port: int) -> Endpoint:
    return Endpoint("127.20.0.1", port)


def test_engine_application_is_secondary_evidence() -> None:
    ident = Identifier(nmap=None, fingerprints=[FP])
    # behind a web server that names itself: the application is the product (the most
    # specific thing named), the server keeps its CPE and its place in technologies
    g = GrabResult(service="http", sections={"http": {
        "server": "nginx/1.22.1", "headers": {"server": "nginx/1.22.1"},
        "html": JENKINS_HTML, "title": "Dashboard [Jenkins]"}})
    i = ident.identify(g, ep(8080))
    assert (i.product, i.version) == ("Jenkins", "2.426.1")
    assert "cpe:/a:jenkins:jenkins:2.426.1" in i.cpe and "cpe:/a:f5:nginx:1.22.1" in i.cpe
    # no Server header: the application with its version names the endpoint
    g = GrabResult(service="http", sections={"http": {
        "headers": {"content-type": "text/html"}, "html": GRAFANA_HTML, "title": "Grafana"}})
    i = ident.identify(g, ep(3000))
    assert (i.service, i.product, i.version) == ("http", "Grafana", "10.2.2")
    assert "cpe:/a:grafana:grafana:10.2.2" in i.cpe
    assert "Grafana" in names(ident.technologies(g.sections["http"]))


def test_no_data_no_change(tmp_path: Path) -> None:
    ident = Identifier(nmap=None, fingerprints=[tmp_path])
    assert ident.wappalyzer is None and ident.recog is None
    assert ident.technologies({"headers": {"server": "nginx"}}) == []


def test_paths_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NETATLAS_FINGERPRINTS", f"{tmp_path}:{FP}")
    assert webapp_dirs() == [FP / "webappanalyzer"]


def test_listed_as_a_source(wap: Wappalyzer) -> None:
    rows = list_sources(nmap_path=None, fingerprints=[FP])
    assert ("wappalyzer", str(FP / "webappanalyzer"), wap.rule_count) in rows
