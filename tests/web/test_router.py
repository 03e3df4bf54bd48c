"""The UI's HTTP surface: headers, status codes, and hostile bytes escaped in the HTML
itself (before any browser is involved)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from tests.web import synthetic
from tests.web.conftest import LiveUI


def get(ui: LiveUI, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(ui.url + path, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def q(query: str) -> str:
    return urllib.parse.quote(query)


def test_pages_carry_a_strict_csp(live_ui: LiveUI) -> None:
    for path in ("/search", "/host/127.20.1.2", "/dashboard", "/map", "/graph",
                 "/graph/data", "/map/data", "/assets/app.css"):
        status, headers, _ = get(live_ui, path)
        assert status == 200, path
        csp = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
        assert csp["script-src"] == "'self'"  # no inline script, no eval
        assert csp["style-src"] == "'self'"
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert headers["x-content-type-options"] == "nosniff"


def test_hostile_bytes_are_escaped_in_html(live_ui: LiveUI) -> None:
    for path in ("/search?q=" + q("ip:127.20.230.1"), "/host/127.20.230.1", "/dashboard"):
        status, _, body = get(live_ui, path)
        text = body.decode()
        assert status == 200
        assert "__pwned" in text, path  # the payload is shown ...
        assert "<script>window.__pwned" not in text, path  # ... but never as markup
        assert "<img src=x" not in text, path
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in text or "\\u003c" in text
    # no script element but our own static files
    _, _, body = get(live_ui, "/host/127.20.230.1")
    scripts = [s.split(">")[0] for s in body.decode().split("<script")[1:]]
    assert all(s.startswith(' src="/assets/') for s in scripts), scripts


def test_dashboard_embeds_json_safely(live_ui: LiveUI) -> None:
    _, _, body = get(live_ui, "/dashboard?q=" + q("ip:127.20.230.1"))
    text = body.decode()
    start = text.index('<script type="application/json" id="dashboard-data">')
    blob = text[start:].split(">", 1)[1].split("</script>", 1)[0]
    assert "<" not in blob  # tojson escapes <, > and & as \\u003c ...
    data = json.loads(blob)
    assert data["totals"]["services"] >= 1
    assert any(synthetic.XSS_SCRIPT in str(p["value"]) or synthetic.XSS_IMG in str(p["value"])
               for p in data["facets"]["product"])


def test_static_files_stay_inside_the_static_dir(live_ui: LiveUI) -> None:
    assert get(live_ui, "/assets/vendor/echarts.min.js")[0] == 200
    assert get(live_ui, "/assets/vendor/world.geo.json")[0] == 200
    for path in ("/assets/../_router.py", "/assets/%2e%2e/_router.py",
                 "/assets/..%2f__init__.py", "/assets/nope.js", "/assets/js"):
        assert get(live_ui, path)[0] == 404, path


def test_host_not_found_and_bad_address(live_ui: LiveUI) -> None:
    assert get(live_ui, "/host/127.20.99.99")[0] == 404
    status, _, body = get(live_ui, "/host/" + q("<script>"))
    assert status == 404 and b"<script>" not in body.split(b"<main", 1)[1]


def test_query_errors(live_ui: LiveUI) -> None:
    status, _, body = get(live_ui, "/search?q=" + q("port:>"))
    assert status == 400
    assert b'class="qerror"' in body and b"<mark>^</mark>" in body
    status, _, body = get(live_ui, "/graph/data?q=" + q("port:>"))
    err: dict[str, Any] = json.loads(body)["error"]
    assert status == 400 and err["column"] == 7 and err["query"] == "port:>"
    assert get(live_ui, "/map/data?q=" + q("port:>"))[0] == 400
    assert get(live_ui, "/dashboard?q=" + q("port:>"))[0] == 400


def test_search_pages_and_facets(live_ui: LiveUI) -> None:
    status, _, body = get(live_ui, "/search?q=" + q("port:80"))
    text = body.decode()
    assert status == 200 and text.count('<article class="card">') == 18
    # a facet link refines the current query
    assert 'href="/search?q=port%3A80+service%3A%22http%22"' in text
    _, _, page2 = get(live_ui, "/search?page=2")
    assert page2.count(b'<article class="card">') > 0 and b'aria-current="page">2<' in page2


def test_graph_data_links_shared_artefacts(live_ui: LiveUI) -> None:
    _, _, body = get(live_ui, "/graph/data")
    g = json.loads(body)
    cert = next(n for n in g["nodes"] if n["kind"] == "cert")
    assert cert["hosts"] == 4
    hosts = {lk["source"] for lk in g["links"] if lk["target"] == cert["id"]}
    assert hosts == {f"host:127.20.1.{i}" for i in (11, 12, 13, 14)}
    # expanding a host finds every host sharing one of its artefacts
    _, _, body = get(live_ui, "/graph/data?host=127.20.1.1")
    ids = {n["id"] for n in json.loads(body)["nodes"]}
    assert {"host:127.20.1.2", "host:127.20.1.3", "host:127.20.1.4"} <= ids


def test_facets_counted_over_a_sample_say_about(live_ui: LiveUI,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from netatlas.store.sqlite import store as sqlite_store

    monkeypatch.setattr(sqlite_store, "FACET_EXACT_MAX", 5)
    monkeypatch.setattr(sqlite_store, "FACET_SAMPLE_ROWS", 2)
    _, _, sampled = get(live_ui, "/search?q=" + q("port:80"))
    assert b'class="approx"' in sampled and b'class="fc">~' in sampled
    _, _, everything = get(live_ui, "/search")  # the store's running totals: exact
    assert b'class="approx"' not in everything and b'class="fc">~' not in everything
