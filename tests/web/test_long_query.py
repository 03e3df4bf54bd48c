"""A query longer than the UI reads (issue 15, defect 7): every page and data route says
so with a 400 and the bound, as the API does, instead of searching a silently cut
query."""

from __future__ import annotations

import json

from tests.web.conftest import UI, LiveUI
from tests.web.test_router import get, q

LIMIT = 2000
LONG = "product:nginx " + "a" * LIMIT  # a valid query, just too long


def _says_why(text: str) -> bool:
    return "too long" in text and f"{len(LONG)}" in text and f"{LIMIT}" in text


def test_pages_refuse_a_long_query_and_say_why(live_ui: LiveUI) -> None:
    for path in ("/search", "/dashboard", "/events"):
        status, _, body = get(live_ui, f"{path}?q={q(LONG)}")
        assert status == 400, path
        assert _says_why(body.decode()), path
    for path in ("/map/data", "/graph/data"):
        status, _, body = get(live_ui, f"{path}?q={q(LONG)}")
        assert status == 400, path
        assert _says_why(json.loads(body)["error"]["message"]), path


def test_a_query_at_the_bound_is_searched(live_ui: LiveUI) -> None:
    status, _, body = get(live_ui, "/search?q=" + q("a" * LIMIT))
    assert status == 200 and b'class="qerror"' not in body


def test_search_page_shows_the_error_in_the_browser(ui: UI) -> None:
    pg = ui.page
    pg.goto("/search")
    pg.fill("#q", LONG)
    pg.press("#q", "Enter")
    pg.wait_for_load_state()
    message = pg.locator(".qerror .qerror-msg").inner_text()
    assert _says_why(message), message
    assert pg.locator("article.card").count() == 0
    assert pg.input_value("#q") == LONG  # the user's text kept, to shorten it
