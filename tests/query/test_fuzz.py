"""Random text: parse() returns a Query or raises QuerySyntaxError, nothing else; and
whatever parses, each store backend compiles and runs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netatlas.query import Query, QuerySyntaxError, parse
from netatlas.store import Store

PIECES = [
    "port:", "title:", "net:", "ip:", "version:", "after:", "timestamp:", "tag:", "severity:",
    "ssl:", "asn:", "foo:", "http.", "OR", "AND", "NOT", "TO", "(", ")", "[", "]", '"', "\\",
    "-", ",", ":", "*", "?", "%", "_", "'", ">", "<", "=", " ", " ", "22", "1000-2000",
    "2026-01-01", "127.20.0.0/24", "::1", "8.0", "9.2p1", "high", "true", "nginx", "é", "\x00",
    "\n", "NEAR", "^",
]
query_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(PIECES), max_size=25).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=12).map(" ".join),
)


def _check(store: Store, text: str) -> None:
    try:
        q = parse(text)
    except QuerySyntaxError as err:
        assert 1 <= err.column <= len(text) + 1
        str(err)  # renders
        return
    assert isinstance(q, Query)
    assert 0 <= store.count(text) <= store.count("")


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=query_text)
def test_parse_never_fails_otherwise(query_store: Store, text: str) -> None:
    _check(query_store, text)
