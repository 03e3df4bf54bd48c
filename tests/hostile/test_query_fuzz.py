"""Query fuzzing (hypothesis) over the grammar and over raw text and bytes, through the
parser, the CLI, the native API, the Shodan API and the web search page: every query
gets a result or a clear error (a QuerySyntaxError with its column, or the bound it
passed), never a 5xx, a traceback or a hang.

tests/query/test_fuzz.py already throws random pieces at ``parse``; here the queries
come from the grammar itself (fields, comparisons, ranges, lists, quotes, negation,
OR, parentheses, nesting) and go all the way through each front. The store-level
tests run on SQLite and on PostgreSQL (tests/pg.py's throwaway server)."""

from __future__ import annotations

import re
import string
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netatlas.api import create_app
from netatlas.cli.main import cli
from netatlas.query import FIELDS, Query, QuerySyntaxError, parse
from netatlas.store import Store, open_store
from tests.api.conftest import fill
from tests.hostile.conftest import FUZZ
from tests.stores import BACKENDS, _new_store_url

FUZZ_SETTINGS = settings(max_examples=200, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow])

# --- strategies ------------------------------------------------------------------------------

ALIASES = sorted({a for f in FIELDS.values() for a in f.aliases})
FIELD_NAMES = sorted(FIELDS) + ALIASES
UNKNOWN_FIELDS = ["foo", "http.", "ssl.cert.subject.xx", "_", "PORT", "a.b.c.d"]
CMP = ["<", "<=", ">", ">=", "=", "<>", ">>", "=>"]

ints = st.one_of(st.integers(-5, 70_000), st.sampled_from([0, 65535, 65536, -1, 10**30]),
                 st.integers()).map(str)
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.sampled_from(["1e308", "1e309", "-0", "inf", "nan", "9.", ".5", "1e-400"]))
dates = st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat() + "Z"),
                  st.sampled_from(["2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31",
                                   "2026-01-01T25:00:00Z", "yesterday"]))
ips = st.one_of(st.ip_addresses().map(str), st.sampled_from(
    ["127.20.*", "127.20.0.0/24", "::ffff:127.0.0.1", "300.1.1.1", "127.20.0.0/33",
     "::/0", "fe80::1%eth0", "1.2.3"]))
versions = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,4}){0,3}(p[0-9])?[a-z]?", fullmatch=True)
words = st.text(alphabet=string.ascii_letters + string.digits + ".-_*?/:@%é漢", min_size=1,
                max_size=12)
nasty = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(ints, floats, dates, ips, versions, words,
                    st.sampled_from(["true", "false", "yes", "high", "critical", "TO", "OR",
                                     "*", "**", "?", "%", "_", "\\", ""]))


def quoted(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bare(s: str) -> str:
    """A value the lexer reads as one VALUE, else quoted."""
    ok = s and not any(c.isspace() or c in '()",[<>' for c in s)
    return s if ok else quoted(s)


values = st.one_of(
    scalars.map(_bare),
    st.tuples(st.sampled_from(CMP), scalars).map(lambda t: t[0] + _bare(t[1])),
    st.tuples(scalars, scalars).map(lambda t: f"[{_bare(t[0])} TO {_bare(t[1])}]"),
    st.tuples(ints, ints).map(lambda t: f"{t[0]}-{t[1]}"),
    st.lists(scalars.map(_bare), min_size=2, max_size=4).map(",".join),
    st.one_of(scalars, nasty).map(quoted),
)
terms = st.one_of(
    st.tuples(st.sampled_from(FIELD_NAMES), values).map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(st.sampled_from(UNKNOWN_FIELDS), values).map(lambda t: f"{t[0]}:{t[1]}"),
    words.filter(lambda w: not w.startswith("-")),
    nasty.map(quoted),
)


def _compose(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, min_size=2, max_size=4).map(" ".join),
        st.lists(children, min_size=2, max_size=4).map(" AND ".join),
        st.lists(children, min_size=2, max_size=4).map(" OR ".join),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-({c})"),
        children.map(lambda c: f"NOT {c}"),
    )


grammar_queries = st.recursive(terms, _compose, max_leaves=12)


def _mutate(q: str, cut: int, junk: str) -> str:
    i = cut % (len(q) + 1)
    return q[:i] + junk + q[i:]


# grammar-shaped queries with a random piece of syntax dropped in somewhere
mutated = st.builds(_mutate, grammar_queries, st.integers(0, 10_000),
                    st.sampled_from(["(", ")", "[", "]", '"', ":", ",", "-", "OR", "NOT",
                                     " TO ", "\\", "\x00", "\n", ">", "port:", "  "]))
# --- queries that are valid by construction: each must parse, and run ------------------

def _valid_value(f: Any) -> st.SearchStrategy[str]:
    """A value ``f`` must accept: in its bounds, of its type, in any of its forms."""
    kind = f.element_type if f.type == "list" else f.type
    if f.implied_op is not None:  # after:, before: take one date
        return st.dates().map(str)
    if kind == "int":
        lo, hi = f.bounds or (-(2**63), 2**63 - 1)
        n = st.integers(lo, hi)
        return st.one_of(
            n.map(str), st.tuples(st.sampled_from(CMP[:4]), n).map(lambda t: f"{t[0]}{t[1]}"),
            st.tuples(n, n).map(sorted).map(lambda t: f"{t[0]}-{t[1]}" if t[0] >= 0
                                               else f"[{t[0]} TO {t[1]}]"),
            st.tuples(n, n).map(lambda t: f"[{t[0]} TO {t[1]}]"),
            st.lists(n.map(str), min_size=2, max_size=4).map(",".join))
    if kind == "date":
        d = st.one_of(st.dates().map(str),
                      st.datetimes().map(lambda x: x.replace(microsecond=0).isoformat() + "Z"))
        return st.one_of(d, st.tuples(st.sampled_from(CMP[:4]), d).map("".join),
                         st.tuples(d, d).map(lambda t: f"[{t[0]} TO {t[1]}]"),
                         d.map(lambda x: f"[* TO {x}]"))
    if kind == "version":
        v = st.decimals(0, 10, places=1).map(str) if f.bounds else versions  # cvss: a score
        return st.one_of(v, st.tuples(st.sampled_from(CMP[:4]), v).map("".join),
                         st.tuples(v, v).map(lambda t: f"[{t[0]} TO {t[1]}]"))
    if kind in ("ip", "net"):
        nets = st.one_of(
            st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
            st.tuples(st.ip_addresses(v=6), st.integers(0, 128)),
        ).map(lambda t: f"{t[0]}/{t[1]}")
        return nets if kind == "net" else st.one_of(st.ip_addresses().map(str), nets)
    if kind == "bool":
        return st.sampled_from(["true", "false", "TRUE", "yes", "no", "on", "off", "1", "0"])
    if kind == "severity":
        sev = st.sampled_from(["info", "low", "medium", "high", "critical"])
        return st.one_of(sev, st.tuples(st.sampled_from(CMP[:4]), sev).map("".join))
    # text: any characters, quoted with the escapes the grammar defines, or wildcards
    return st.one_of(nasty.map(quoted), words.map(_bare),
                     words.map(lambda w: f"*{_bare(w)}*" if _bare(w) == w else quoted(w)))


valid_terms = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda name: _valid_value(FIELDS[name]).map(lambda v: f"{name}:{v}"))
valid_queries = st.recursive(valid_terms, _compose, max_leaves=6)

raw_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
raw_bytes = st.binary(max_size=200)
any_query = st.one_of(grammar_queries, mutated, raw_text,
                      raw_bytes.map(lambda b: b.decode("utf-8", errors="replace")))


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    fill(path)  # tests/api's synthetic store, a hostile record among them
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, db: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The same records on each backend: the store-level fuzz runs on both."""
    if request.param == "sqlite":
        s, drop = open_store(db), None
    else:
        url, drop = _new_store_url("postgres", request, tmp_path_factory.mktemp("fuzz-pg"))
        fill(url)  # type: ignore[arg-type]
        s = open_store(url)
    yield s
    s.close()
    if drop is not None:
        drop()


def _backend(store: Store) -> str:
    return "postgres" if type(store).__name__.startswith("Postgres") else "sqlite"


@pytest.fixture(scope="module")
def client(db: Path) -> Iterator[TestClient]:
    app = create_app(str(db), allow=["127.20.0.0/16"], rate=1e9, burst=10**9)
    keys = open_store(db)
    key = keys.create_key("read", "fuzz")[0]
    keys.close()
    # raise_server_exceptions: an unhandled exception fails the example, not a 500 page
    with TestClient(app, raise_server_exceptions=True) as c:
        c.headers["X-API-Key"] = key
        yield c


def _tally(name: str, outcome: str) -> None:
    FUZZ.setdefault(name, Counter())[outcome] += 1


# --- the parser ------------------------------------------------------------------------------

def _parse_checked(text: str) -> Query | None:
    """parse(): a Query, or a QuerySyntaxError that says where and what."""
    try:
        q = parse(text)
    except QuerySyntaxError as err:
        assert 1 <= err.column <= len(text) + 1, (err.column, len(text))
        assert err.message.strip()
        assert f"column {err.column}" in str(err)
        return None
    assert isinstance(q, Query)
    return q


@FUZZ_SETTINGS
@given(text=any_query)
def test_parser(store: Store, text: str) -> None:
    q = _parse_checked(text)
    _tally(f"parser, {_backend(store)}", "result" if q is not None else "clear error")
    if q is not None:  # whatever parses, the store compiles and runs
        assert 0 <= store.count(text) <= store.count("")


@FUZZ_SETTINGS
@given(text=valid_queries)
def test_valid_queries_parse_and_run(store: Store, text: str) -> None:
    """A query made only of what the language accepts is never refused; what it finds
    is what search returns, and its negation finds the rest."""
    try:
        parse(text)
    except QuerySyntaxError as err:
        raise AssertionError(f"a valid query refused: {err}") from None
    _tally(f"valid queries, {_backend(store)}", "result")
    total = store.count("")
    n = store.count(text)
    assert n == len(store.search(text, limit=1000))
    assert n + store.count(f"-({text})") == total


# --- the HTTP fronts -------------------------------------------------------------------------

def _clear_api_error(r: Any, text: str) -> None:
    body = r.json()
    assert set(body) >= {"error"}, body
    message = body["error"]
    assert isinstance(message, str) and message.strip()
    assert "Traceback" not in message
    if "column" in body:  # a syntax error: where it is
        assert 1 <= body["column"] <= len(text) + 1
    else:  # a bound: which one
        assert "at most" in message or "too long" in message, message


def _get(client: TestClient, path: str, param: str, text: str) -> Any:
    # the query string as a browser or curl sends it: UTF-8, percent-encoded
    return client.get(f"{path}?{param}={urllib.parse.quote(text, safe='')}")


_CARET = re.compile(r"\n( *)<mark>\^</mark></code></pre>")
NATIVE = [("/api/v1/search", "q"), ("/api/v1/count", "q"), ("/api/v1/stats", "q")]
SHODAN = [("/shodan/host/search", "query"), ("/shodan/host/count", "query")]


def _check_api(client: TestClient, routes: list[tuple[str, str]], name: str,
               text: str) -> None:
    for path, param in routes:
        r = _get(client, path, param, text)
        assert r.status_code in (200, 400), (path, r.status_code, r.text[:300])
        if r.status_code == 400:
            _clear_api_error(r, text)
            _tally(name, "clear error")
        else:
            assert "total" in r.json()
            _tally(name, "result")


@FUZZ_SETTINGS
@given(text=any_query)
def test_native_api(client: TestClient, text: str) -> None:
    _check_api(client, NATIVE, "native api", text)


@FUZZ_SETTINGS
@given(text=any_query)
def test_shodan_api(client: TestClient, text: str) -> None:
    _check_api(client, SHODAN, "shodan api", text)


@FUZZ_SETTINGS
@given(text=any_query)
def test_web_search_page(client: TestClient, text: str) -> None:
    r = _get(client, "/search", "q", text)
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    assert "Traceback" not in r.text
    if r.status_code == 400:
        assert 'class="qerror"' in r.text
        try:
            parse(text)
        except QuerySyntaxError as err:  # the page points at the column the parser gave
            caret = _CARET.search(r.text)
            assert caret is not None, r.text
            assert len(caret.group(1)) == err.column - 1, (err.column, caret.group(0))
        else:  # not a syntax error: a bound, said
            assert "at most" in r.text or "too long" in r.text, r.text
        _tally("web search page", "clear error")
    else:
        _tally("web search page", "result")


@settings(max_examples=200, deadline=None)
@given(raw=raw_bytes)
def test_raw_query_string_bytes(client: TestClient, raw: bytes) -> None:
    """Bytes that are no UTF-8, percent-encoded into the query string of every front."""
    enc = urllib.parse.quote_from_bytes(raw, safe="")
    for path, param in [*NATIVE, *SHODAN, ("/search", "q")]:
        r = client.get(f"{path}?{param}={enc}")
        assert r.status_code in (200, 400), (path, raw, r.status_code, r.text[:300])
        assert "Traceback" not in r.text
        _tally("raw query-string bytes", "result" if r.status_code == 200 else "clear error")


# --- the CLI ---------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=any_query.filter(lambda t: "\x00" not in t))  # argv cannot carry a NUL
def test_cli_search(db: Path, text: str) -> None:
    # the query after "--", as POSIX has it: a query that is an option's name ("--json",
    # "--help") or "--" itself is otherwise an option (tests/cli covers '-port:80' alone)
    result = CliRunner().invoke(cli, ["search", "--db", str(db), "--json", "--", text])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code in (0, 2), (result.exit_code, result.output[-500:])
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert "column" in result.output or "at most" in result.output, result.output
        _tally("cli search", "clear error")
    else:
        _tally("cli search", "result")
