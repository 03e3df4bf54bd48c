"""PostgreSQL's ``netatlas_version_key`` (schema migration 6) gives exactly Python's
``version_sort_key`` bytes, NULL for what is not a version: a section's release
(``elastic.version:>=7``) then orders on PostgreSQL as ``version:`` does, and as the
SQLite store (which calls Python) does. Pinned over generated strings on a real server:
pre-release words in any case, release letters, numbers past 30 digits, runs of zeros,
separators, white space, text past the 200 characters read, and junk."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netatlas.lab.pgserver import TempPostgres
from netatlas.query.versions import version_sort_key
from netatlas.store.postgres import PostgresStore


@pytest.fixture(scope="module")
def conn(pg_server: TempPostgres) -> Iterator[psycopg.Connection]:
    url = pg_server.create_database("version_key_fn")
    PostgresStore(url).close()  # migrated as a store opens it
    with psycopg.connect(url, autocommit=True) as c:
        yield c
    pg_server.drop_database("version_key_fn")


def _pg_keys(conn: psycopg.Connection, texts: list[str]) -> list[bytes | None]:
    rows = conn.execute("SELECT netatlas_version_key(t.x) FROM unnest(%s::text[])"
                        " WITH ORDINALITY AS t(x, i) ORDER BY t.i", (texts,)).fetchall()
    return [None if k is None else bytes(k) for (k,) in rows]


_WORDS = ["dev", "snapshot", "pre", "preview", "alpha", "beta", "rc", "a", "b", "c", "p",
          "k", "final", "ga", "post", "ubuntu", "el", "x", "RC", "Beta", "DEV", "A", "B"]
_word = st.sampled_from(_WORDS).flatmap(
    lambda w: st.lists(st.booleans(), min_size=len(w), max_size=len(w)).map(
        lambda ups: "".join(ch.upper() if up else ch for ch, up in zip(w, ups, strict=True))))
_number = st.one_of(st.from_regex(r"0{0,3}[0-9]{1,4}", fullmatch=True),
                    st.from_regex(r"[0-9]{28,45}", fullmatch=True),  # past 30 digits
                    st.just("0"), st.just("00"))
_sep = st.sampled_from(["", ".", "-", "_", "+", "~", ". ", "/", " ", "("])
_part = st.tuples(_sep, st.one_of(_number, _word)).map("".join)
VERSIONS = st.tuples(
    st.sampled_from(["", " ", "\t", "v", "V", " v", "\n", "\x0b", "\x1c", "\xa0", "vv"]),
    _number, st.lists(_part, max_size=10).map("".join),
    st.sampled_from(["", " (Ubuntu)", "-SNAPSHOT", "+build.5", "\u0663", "é1", "ａ"]),
).map("".join)
# text PostgreSQL can hold: no NUL, no lone surrogate
JUNK = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
               max_size=40)
# zeros then a token past the 200 characters read, or within them
LONG = st.tuples(st.integers(1, 120), _part).map(lambda t: "1" + ".0" * t[0] + t[1])
ANY = st.one_of(VERSIONS, VERSIONS, JUNK, LONG,
                st.tuples(st.sampled_from(["\u0663", "\u0661.", "\u2003", "１"]), VERSIONS
                          ).map("".join))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(ANY, min_size=1, max_size=25))
def test_function_gives_python_keys(conn: psycopg.Connection, texts: list[str]) -> None:
    assert _pg_keys(conn, texts) == [version_sort_key(t) for t in texts]


def test_function_orders_as_python(conn: psycopg.Connection) -> None:
    ascending = ["1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.1", "1.1.1", "1.1.1a", "1.1.1k",
                 "1.1.2", "1.9", "1.10", "1.22rc1", "1.22", "1.22p1", "1.22.1", "7.4",
                 "8.0p1", "8.9", "8.9p1", "9.2p1", "10", "10.0.0.1"]
    got = [x for (x,) in conn.execute(
        "SELECT t.x FROM unnest(%s::text[]) AS t(x) ORDER BY netatlas_version_key(t.x), t.x",
        (list(reversed(ascending)),))]
    assert got == ascending
    (equal,) = conn.execute("SELECT netatlas_version_key('8.0') = netatlas_version_key('v8')"
                            " AND netatlas_version_key('8') = netatlas_version_key('8.0.0')"
                            ).fetchone() or (None,)
    assert equal is True


@pytest.mark.parametrize("text", ["", "unknown", "abc1.0", "(1.0)", "\u0663.1", "ｖ1"])
def test_not_a_version_is_null(conn: psycopg.Connection, text: str) -> None:
    assert version_sort_key(text) is None
    assert _pg_keys(conn, [text]) == [None]


def test_function_is_immutable(conn: psycopg.Connection) -> None:
    (vol, strict) = conn.execute(
        "SELECT provolatile, proisstrict FROM pg_proc WHERE proname = 'netatlas_version_key'"
    ).fetchone() or (None, None)
    assert (vol, strict) == ("i", True)  # usable in an index; NULL in, NULL out
