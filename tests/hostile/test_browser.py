"""What the hostile servers sent, in the web UI in a real browser (Debian's Chromium
via tests/web's Playwright fixture): a title that is markup once unescaped, with
terminal escapes and a bidi override, shows as text on the search and host pages; no
script runs, nothing is loaded from elsewhere, and the override does not reorder the
text netatlas itself shows next to it (timestamps, facet counts)."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hostile import servers as s
from tests.hostile.conftest import FIGURES, SCRIPT, Scanned
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

UI_HOST = f"{s.NET}.250"  # on the hostile net, never among the scanned addresses


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """This module's own Chromium, closed when the module ends: Playwright's sync API
    keeps an event loop running in this thread while it is open, and tests after this
    directory call asyncio.run() (tests/web's session browser starts last, with them)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def ui_url(scanned: Scanned) -> Iterator[str]:
    import uvicorn

    from netatlas.api import create_app

    app = create_app(str(scanned.db), open_access=True)  # loopback only, no key
    sock = s.listener(UI_HOST)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://{UI_HOST}:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def page(browser: Any, ui_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=ui_url)
    pg = context.new_page()
    events: list[str] = []

    def on_dialog(dialog: Any) -> None:
        events.append("dialog " + dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda exc: events.append(f"page error {exc}"))

    def only_ours(route: Any) -> None:
        if route.request.url.startswith(ui_url):
            route.continue_()
        else:  # the hostile page links out of scope: nothing may be fetched from there
            events.append("outside request " + route.request.url)
            route.abort()

    pg.route("**/*", only_ours)
    pg.events = events
    yield pg
    context.close()


def _inert(pg: Any) -> None:
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    assert pg.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    srcs = pg.evaluate("Array.from(document.scripts).map(s => s.getAttribute('src'))")
    assert all(src and src.startswith("/assets/") for src in srcs if src is not None), srcs
    assert pg.events == []


# Whether a text node's characters are laid out left to right: an override leaking out
# of a server's field would draw the next element's text reversed.
LEFT_TO_RIGHT = """(el) => {
  const node = el.firstChild;
  if (!node || node.length < 2) return true;
  const at = (i) => { const r = document.createRange(); r.setStart(node, i);
                      r.setEnd(node, i + 1); return r.getBoundingClientRect().left; };
  return at(0) < at(node.length - 1);
}"""


def test_search_page_shows_hostile_title_as_text(scanned: Scanned, page: Any) -> None:
    ip = scanned.range.servers["http-script"].ip
    page.goto("/search?q=" + urllib.parse.quote(f"ip:{ip}"))
    card = page.locator("article.card")
    assert card.count() == 1
    title = card.locator(".card-title").inner_text()
    assert SCRIPT in title, title  # the markup, as text
    assert "evil" in title
    assert page.locator("article.card script, article.card img").count() == 0
    # the bidi override inside the title does not reorder what netatlas shows around it
    assert page.locator("article.card time.ts").evaluate(LEFT_TO_RIGHT)
    _inert(page)
    FIGURES["browser"] = {"pages": FIGURES.get("browser", {}).get("pages", 0) + 1}


def test_every_hostile_record_renders_inert(scanned: Scanned, page: Any) -> None:
    query = "net:" + s.NET + ".0/24"
    page.goto("/search?q=" + urllib.parse.quote(query))
    assert page.locator("article.card").count() >= 20  # a page of them
    for el in page.locator("article.card time.ts").all():
        assert el.evaluate(LEFT_TO_RIGHT)
    for el in page.locator(".facet .fc").all():  # counts next to hostile product names
        assert el.evaluate(LEFT_TO_RIGHT)
    _inert(page)
    for name in ("http-script", "http-escapes", "cert-escapes", "banner-bytes"):
        page.goto(f"/host/{scanned.range.servers[name].ip}")
        assert page.locator("details.service").count() >= 1
        _inert(page)
    # the chart pages draw hostile values (products, titles, CNs) from their JSON data
    for path in ("/dashboard", "/graph", "/map"):
        page.goto(f"{path}?q=" + urllib.parse.quote(query))
        page.wait_for_load_state("networkidle")
        _inert(page)
    FIGURES["browser"] = {"pages": FIGURES.get("browser", {}).get("pages", 0) + 8}
