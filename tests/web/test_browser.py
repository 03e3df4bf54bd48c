"""The UI in a real browser (Debian's Chromium via Playwright): search and facet
refinement, host page, dashboard, map, relation graph — and hostile payloads from a
scanned server rendered as inert text on every page. Screenshots go to
test-artifacts/web/."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from tests.web import synthetic
from tests.web.conftest import UI, screenshot

HOSTILE_IP = "127.20.230.1"


def assert_inert(ui: UI) -> None:
    pg = ui.page
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    assert pg.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    srcs = pg.evaluate("Array.from(document.scripts).map(s => s.getAttribute('src'))")
    assert all(s and s.startswith("/assets/") for s in srcs if s is not None), srcs
    inline = pg.evaluate(
        "Array.from(document.scripts).filter(s => !s.src && s.type !== 'application/json')"
        ".length")
    assert inline == 0
    assert ui.watch.dialogs == []
    assert ui.watch.errors == []
    assert pg.evaluate("window.__violations") == []


def wait_until(pg: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS expression (page.evaluate goes over CDP, so the page's CSP, which
    forbids eval, does not block it as it blocks wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not pg.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.1)


def wait_chart(pg: Any, selector: str) -> None:
    pg.wait_for_selector(f"{selector} canvas", timeout=15_000)


def test_search_and_facet_click_refines(ui: UI) -> None:
    pg = ui.page
    pg.goto("/search")
    assert pg.locator("article.card").count() == 20
    total = pg.locator(".results-head .total b").inner_text()
    pg.fill("#q", "port:22")
    pg.press("#q", "Enter")
    pg.wait_for_url("**/search?q=port%3A22")
    assert pg.locator("article.card").count() == 8
    pg.locator('.facet a[data-facet="service"]', has_text="ssh").click()
    pg.wait_for_load_state()
    query = urllib.parse.parse_qs(urllib.parse.urlparse(pg.url).query)["q"][0]
    assert query == 'port:22 service:"ssh"'
    assert pg.input_value("#q") == query
    cards = pg.locator("article.card")
    assert cards.count() == 8
    assert set(pg.locator("article.card .pill.svc").all_inner_texts()) == {"ssh"}
    # export links carry the current query
    href = pg.locator("a", has_text="Export CSV").get_attribute("href")
    assert href == "/api/v1/export?" + urllib.parse.urlencode({"q": query, "format": "csv"})
    pg.goto("/search")
    assert pg.locator(".results-head .total b").inner_text() == total
    screenshot(pg, "search")
    assert_inert(ui)


def test_pagination(ui: UI) -> None:
    pg = ui.page
    pg.goto("/search")
    pg.locator(".pager a", has_text="Next").click()
    pg.wait_for_url("**/search?q=&page=2")
    assert pg.locator(".pager .current").inner_text() == "2"
    assert pg.locator("article.card").count() >= 1


def test_bad_query_shows_caret(ui: UI) -> None:
    pg = ui.page
    pg.goto("/search?q=" + urllib.parse.quote("port:>"))
    box = pg.locator(".qerror")
    assert box.is_visible()
    lines = pg.locator(".qerror-caret code").inner_text().split("\n")
    assert lines[0] == "port:>"
    assert lines[1].index("^") == 6  # under column 7, just past the ">"
    screenshot(pg, "search-error")
    assert_inert(ui)


def test_host_page_expands_and_shows_history(ui: UI) -> None:
    pg = ui.page
    pg.goto("/host/127.20.1.2")
    svc = pg.locator("details.service").first
    assert svc.get_attribute("open") is None
    assert not pg.locator("details.service .banner").first.is_visible()
    svc.locator(":scope > summary").click()
    assert svc.get_attribute("open") is not None
    assert "Server: nginx/1.22.1" in svc.locator(".banner").inner_text()
    assert '"title": "Welcome page 1"' in svc.locator("pre.json").first.inner_text()
    changed = pg.locator(".event.ev-changed").first
    rows = changed.locator("table.changes tr").all_inner_texts()
    assert any("version" in r and "1.18.0" in r and "1.22.1" in r for r in rows), rows
    assert pg.locator(".event.ev-new").count() == 1
    screenshot(pg, "host")
    assert_inert(ui)


def test_dashboard_renders(ui: UI) -> None:
    pg = ui.page
    pg.goto("/dashboard")
    for key in ("port", "service", "product", "severity", "risk", "country", "by_day"):
        wait_chart(pg, f'[data-chart="{key}"]')
    totals = pg.locator(".total-card .n").all_inner_texts()
    assert int(totals[0].replace(",", "")) > 30
    time.sleep(1.2)  # let the bars finish their entry animation
    screenshot(pg, "dashboard")
    # a bar click searches for that value
    box = pg.locator('[data-chart="service"]').bounding_box()
    assert box is not None
    pos = pg.evaluate("""() => {
        const c = echarts.getInstanceByDom(document.querySelector('[data-chart="service"]'));
        const d = c.getModel().getSeriesByIndex(0).getData();
        const last = d.count() - 1;  // the top bar: the most common service
        const r = d.getItemLayout(last);
        return [r.x + r.width / 2, r.y + r.height / 2];
    }""")
    pg.mouse.click(box["x"] + pos[0], box["y"] + pos[1])
    pg.wait_for_url("**/search?q=service*")
    assert urllib.parse.parse_qs(urllib.parse.urlparse(pg.url).query)["q"] == ['service:"http"']
    assert_inert(ui)


def test_map_renders(ui: UI) -> None:
    pg = ui.page
    pg.goto("/map")
    wait_chart(pg, "#map")
    wait_until(pg,
        "document.getElementById('map-stats').textContent.includes('located')")
    assert pg.locator("#map-stats").inner_text().startswith("25 of 25 hosts located")
    countries = pg.locator("#map-countries li").all_inner_texts()
    assert any(c.startswith("Australia") for c in countries)
    # the hostile country name is listed as text
    assert any(synthetic.XSS_IMG in c for c in countries)
    n_points = pg.evaluate("""() => echarts.getInstanceByDom(document.getElementById('map'))
        .getOption().series[0].data.length""")
    assert n_points == 9
    time.sleep(1.0)
    screenshot(pg, "map")
    assert_inert(ui)


def _node_pixel(pg: Any, node_id: str) -> tuple[float, float]:
    pos = pg.evaluate("""(id) => {
        const c = echarts.getInstanceByDom(document.getElementById('graph'));
        const d = c.getModel().getSeriesByIndex(0).getData();
        for (let i = 0; i < d.count(); i++) {
          if (d.getId(i) === id) return c.convertToPixel({seriesIndex: 0}, d.getItemLayout(i));
        }
        return null;
    }""", node_id)
    assert pos is not None, node_id
    box = pg.locator("#graph").bounding_box()
    return box["x"] + pos[0], box["y"] + pos[1]


def click_node(pg: Any, node_id: str, shown: str) -> None:
    """Click a graph node until the details panel shows ``shown`` (the force layout
    keeps moving nodes for a moment: aim again if it moved)."""
    details = pg.locator("#details .node-value")
    for _ in range(15):
        x, y = _node_pixel(pg, node_id)
        pg.mouse.move(x, y)
        pg.mouse.click(x, y)
        if shown in details.all_inner_texts():
            return
        time.sleep(0.4)
    raise AssertionError(f"clicking {node_id} did not show its details")


def test_graph_click_shows_details(ui: UI) -> None:
    pg = ui.page
    pg.goto("/graph")
    wait_chart(pg, "#graph")
    wait_until(pg, "document.getElementById('graph-stats').textContent.includes('hosts')")
    time.sleep(2.5)  # let the force layout settle for the overview
    screenshot(pg, "graph")
    details = pg.locator("#details")
    click_node(pg, f"host:{HOSTILE_IP}", HOSTILE_IP)
    # the hostile product shows as text in the details panel and the tooltip
    assert synthetic.XSS_SCRIPT in details.inner_text()
    assert details.locator("a", has_text="Host page").get_attribute("href") == (
        f"/host/{HOSTILE_IP}")
    screenshot(pg, "graph-details")
    click_node(pg, f"html:{synthetic.SHARED_HTML}", str(synthetic.SHARED_HTML))
    assert details.locator(".node-kind").inner_text().lower() == "html body hash"
    assert "Seen on 4 hosts" in details.inner_text()
    assert details.locator("a", has_text="Search").get_attribute("href") == (
        "/search?" + urllib.parse.urlencode({"q": f"http.html_hash:{synthetic.SHARED_HTML}"}))
    assert_inert(ui)


def test_graph_expand_pulls_in_neighbours(ui: UI) -> None:
    pg = ui.page
    pg.goto("/graph?q=" + urllib.parse.quote("port:22"))
    wait_until(pg, "window.netatlasGraph && window.netatlasGraph.nodes().length > 0")
    # among SSH services only one key is shared: two hosts and the key
    assert len(pg.evaluate("window.netatlasGraph.nodes()")) == 3
    time.sleep(1.0)
    click_node(pg, "host:127.20.1.1", "127.20.1.1")
    pg.click("#expand")
    wait_until(pg, "window.netatlasGraph.nodes().length > 3")
    ids = set(pg.evaluate("window.netatlasGraph.nodes()"))
    # 127.20.1.1's favicon is shared with .2 and .3: expansion brought them in
    assert {"host:127.20.1.2", "host:127.20.1.3", f"favicon:{synthetic.SHARED_FAVICON}"} <= ids
    assert_inert(ui)


def test_graph_of_one_host(ui: UI) -> None:
    pg = ui.page
    pg.goto("/graph?host=127.20.1.1")
    wait_until(pg, "window.netatlasGraph && window.netatlasGraph.nodes().length > 0")
    ids = pg.evaluate("window.netatlasGraph.nodes()")
    assert {"host:127.20.1.1", "host:127.20.1.2", "host:127.20.1.4"} <= set(ids)


def test_hostile_payloads_are_inert_everywhere(ui: UI, live_ui: Any) -> None:
    pg = ui.page
    pg.goto("/search?q=" + urllib.parse.quote(f"ip:{HOSTILE_IP}"))
    text = pg.locator("main").inner_text()
    assert synthetic.XSS_SCRIPT in text and synthetic.XSS_IMG in text
    # facet values from the hostile host, and a click on one, stay text
    pg.locator('.facet a[data-facet="product"]').first.click()
    pg.wait_for_load_state()
    assert "onerror" in pg.input_value("#q")
    # the refined query (quotes in the value escaped) finds the hostile records again
    assert pg.locator("article.card").count() >= 1
    assert synthetic.XSS_SCRIPT in pg.locator("article.card").first.inner_text()
    assert_inert(ui)
    pg.goto(f"/host/{HOSTILE_IP}")
    pg.click("#expand-all")
    body = pg.locator("main").inner_text()
    assert synthetic.XSS_SCRIPT in body
    assert pg.locator("details.service .banner").count() == 2
    if live_ui.hostile_scanned:  # scanned for real: what the server sent is shown
        real = pg.locator("details.service", has_text="8080/tcp")
        assert synthetic.XSS_SCRIPT in real.locator(".banner").inner_text()
        assert synthetic.XSS_SCRIPT in real.locator(":scope > summary").inner_text()  # the title
    screenshot(pg, "host-hostile")
    assert_inert(ui)
    # ECharts tooltips are HTML: hover the hostile bars and map point
    pg.goto("/dashboard")
    wait_chart(pg, '[data-chart="product"]')
    time.sleep(1.0)
    box = pg.locator('[data-chart="product"]').bounding_box()
    pos = pg.evaluate("""() => {
        const c = echarts.getInstanceByDom(document.querySelector('[data-chart="product"]'));
        const d = c.getModel().getSeriesByIndex(0).getData();
        const out = [];
        for (let i = 0; i < d.count(); i++) {
          const r = d.getItemLayout(i);
          out.push([r.x + r.width / 2, r.y + r.height / 2]);
        }
        return out;
    }""")
    shown = []
    for x, y in reversed(pos):  # the hostile product's bar (the smallest) last
        pg.mouse.move(box["x"] + x, box["y"] + y)
        time.sleep(0.3)
        shown.append(pg.evaluate("""() => Array.from(document.querySelectorAll('.tt'))
            .map(t => t.textContent).join('|')"""))
    assert any(synthetic.XSS_IMG in s for s in shown), shown
    screenshot(pg, "dashboard-tooltip")
    assert_inert(ui)
    pg.goto("/map")
    wait_chart(pg, "#map")
    wait_until(pg, "document.getElementById('map-stats').textContent.includes('located')")
    time.sleep(0.8)
    # points can overlap at world zoom: ask ECharts for the hostile point's tooltip
    pg.evaluate("""() => {
        const c = echarts.getInstanceByDom(document.getElementById('map'));
        const pts = c.getOption().series[0].data;
        const i = pts.findIndex(p => p.place.ips.includes('127.20.230.1'));
        c.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: i});
    }""")
    pg.wait_for_selector(".tt", timeout=5000)
    assert synthetic.XSS_SCRIPT in pg.locator(".tt").first.inner_text()
    screenshot(pg, "map-tooltip")
    assert_inert(ui)
