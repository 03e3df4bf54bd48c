"""Query-text helpers: a facet click narrows the query, whatever the value holds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.web._query import MAX_PAGE, make_pager, parse_page, quote_value, refine, search_url


def test_quote_value_escapes_quotes_and_backslashes() -> None:
    assert quote_value(80) == "80"
    assert quote_value("nginx") == '"nginx"'
    assert quote_value('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_value("a*b?") == '"a\\*b\\?"'  # a server's "*" is no wildcard


def test_refine_appends_and_does_not_repeat() -> None:
    assert refine("", "port", 22) == "port:22"
    assert refine("nginx", "service", "http") == 'nginx service:"http"'
    assert refine('nginx service:"http"', "service", "http") == 'nginx service:"http"'


def test_refine_wraps_a_top_level_or() -> None:
    assert refine("port:22 OR port:80", "tag", "cdn") == '(port:22 OR port:80) tag:"cdn"'
    # "OR" inside a word or a quoted value is not an operator
    assert refine('product:"ORACLE"', "port", 1) == 'product:"ORACLE" port:1'


def test_search_url_encodes_everything() -> None:
    assert search_url('title:"<x>" & y', 3) == "/search?q=title%3A%22%3Cx%3E%22+%26+y&page=3"


def test_pager() -> None:
    assert parse_page("x") == 1 and parse_page("-4") == 1 and parse_page("99999") == MAX_PAGE
    p = make_pager(6, 20 * 40)
    assert (p.page, p.pages, p.offset) == (6, 40, 100)
    assert p.window() == [1, None, 4, 5, 6, 7, 8, None, 40]
    assert make_pager(9, 5).page == 1  # past the end: the last page
    assert make_pager(1, 0).window() == []


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.isprintable()))
@settings(max_examples=200, deadline=None)
def test_a_refined_value_parses_back_to_itself(value: str) -> None:
    from netatlas.query import parse
    from netatlas.query.ast import Term

    root = parse(refine("", "product", value)).root
    assert isinstance(root, Term)
    assert root.field == "product" and root.op == "eq" and root.values == (value,)
