"""Grammar and typing: every construct, precedence, and errors with their columns."""

from __future__ import annotations

import pytest

from netatlas.query import QuerySyntaxError, parse
from netatlas.query.ast import And, Glob, Not, Or, Query, Term, Text

DAY = 86400.0
JAN1 = 1767225600.0  # 2026-01-01T00:00:00Z


def root(text: str) -> object:
    return parse(text).root


def t(field: str, op: str, *values: object) -> Term:
    return Term(field, op, values)  # type: ignore[arg-type]


# -- constructs ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("port:22", t("port", "eq", 22)),
    ("Port:22", t("port", "eq", 22)),
    ('product:"Apache httpd"', t("product", "eq", "Apache httpd")),
    ("product:nginx", t("product", "eq", "nginx")),
    ("-port:22", Not(t("port", "eq", 22))),
    ("NOT port:22", Not(t("port", "eq", 22))),
    ("NOT NOT port:22", t("port", "eq", 22)),
    ("port:>1024", t("port", "gt", 1024)),
    ("port:>=1024", t("port", "ge", 1024)),
    ("port:<80", t("port", "lt", 80)),
    ("port:<=80", t("port", "le", 80)),
    ("port:> 1024", t("port", "gt", 1024)),
    ("port:80,443", t("port", "eq", 80, 443)),
    ("port:1000-2000", t("port", "range", 1000, 2000)),
    ("port:[1000 TO 2000]", t("port", "range", 1000, 2000)),
    ("port:[1000 TO *]", t("port", "range", 1000, None)),
    ("port:22,1000-2000", Or((t("port", "eq", 22), t("port", "range", 1000, 2000)))),
    ("http.favicon.hash:-1234", t("http.favicon.hash", "eq", -1234)),
    ("version:<8.0", t("version", "lt", "8.0")),
    ("version:>=1.22", t("version", "ge", "1.22")),
    ("version:9.2p1", t("version", "eq", "9.2p1")),
    ("version:[1.0 TO 2.0]", t("version", "range", "1.0", "2.0")),
    ("net:127.20.0.0/24", t("net", "eq", "127.20.0.0/24")),
    ("net:127.20.0.9/24", t("net", "eq", "127.20.0.0/24")),
    ("net:127.20.0.9", t("net", "eq", "127.20.0.9/32")),
    ("net:2001:DB8::/32", t("net", "eq", "2001:db8::/32")),
    ("ip:127.20.0.1", t("ip", "eq", "127.20.0.1")),
    ("ip:::FFFF:127.20.0.1", t("ip", "eq", "::ffff:7f14:1")),
    ("ip:127.20.0.*", t("ip", "glob", Glob("127.20.0.*"))),
    ("product:ngin*", t("product", "glob", Glob("ngin*"))),
    ("product:ngin?x", t("product", "glob", Glob("ngin?x"))),
    (r"product:ngin\*", t("product", "eq", "ngin*")),
    (r'title:"say \"hi\""', t("title", "eq", 'say "hi"')),
    ('title:"100% *"', t("title", "glob", Glob("100% *"))),
    ("tag:cloud,db", t("tag", "eq", "cloud", "db")),
    ("tags:cloud", t("tag", "eq", "cloud")),
    ("has_ssl:true", t("ssl", "eq", True)),
    ("ssl:no", t("ssl", "eq", False)),
    ("asn:15169", t("asn", "eq", "AS15169")),
    ("severity:>=high", t("severity", "ge", 3)),
    ("severity:Critical", t("severity", "eq", 4)),
    ("after:2026-01-01", t("after", "ge", JAN1)),
    ("before:2026-01-01", t("before", "lt", JAN1)),
    ("after:2026-01-01T01:00:00+01:00", t("after", "ge", JAN1)),
    ("after:2026-01-01T00:00:00Z", t("after", "ge", JAN1)),
    ("timestamp:2026-01-01", And((t("timestamp", "ge", JAN1), t("timestamp", "lt", JAN1 + DAY)))),
    ("timestamp:>2026-01-01", t("timestamp", "ge", JAN1 + DAY)),
    ("timestamp:<=2026-01-01", t("timestamp", "lt", JAN1 + DAY)),
    ("nginx", Text("nginx")),
    ('"hello world"', Text("hello world")),
    ("ngin*", Text("ngin", prefix=True)),
    ("-nginx", Not(Text("nginx"))),
    ('-"a b"', Not(Text("a b"))),
    ("oracle", Text("oracle")),
    ("ORACLE", Text("ORACLE")),  # keywords are whole words only
    ("and or not", And((Text("and"), Text("or"), Text("not")))),  # lower case: words
    ('"OR"', Text("OR")),
    ("foo-bar", Text("foo-bar")),
    ("127.20.0.1:80", Text("127.20.0.1:80")),
    ("port:22 nginx", And((t("port", "eq", 22), Text("nginx")))),
    ("port:22 AND nginx", And((t("port", "eq", 22), Text("nginx")))),
    ("a OR b", Or((Text("a"), Text("b")))),
])
def test_construct(text: str, expected: object) -> None:
    assert root(text) == expected


def test_precedence_and_binds_tighter_than_or() -> None:
    a, b, c = Text("a"), Text("b"), Text("c")
    assert root("a OR b c") == Or((a, And((b, c))))
    assert root("a b OR c") == Or((And((a, b)), c))
    assert root("a OR b AND c") == Or((a, And((b, c))))
    assert root("(a OR b) c") == And((Or((a, b)), c))
    assert root("a (b OR c)") == And((a, Or((b, c))))
    assert root("-(a OR b) c") == And((Not(Or((a, b))), c))
    assert root("NOT a OR b") == Or((Not(a), b))
    assert root("a OR b OR c") == Or((a, b, c))  # flat, not nested
    assert root("a b c") == And((a, b, c))
    assert root("((a))") == a
    assert root("a OR (b OR c)") == Or((a, b, c))


def test_empty_query() -> None:
    assert parse("") == Query(None, "")
    assert parse("  \t ").root is None


def test_term_remembers_value_column() -> None:
    term = root("nginx port:22")
    assert isinstance(term, And)
    assert term.children[1].column == 12  # type: ignore[union-attr]


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "column", "needle"), [
    ("port:", 6, 'expected a value after "port:"'),
    ("port:>", 7, 'expected a value after "port:>"'),
    ("port:>>", 7, 'expected a value after "port:>"'),
    ("(port:22", 9, 'expected ")"'),
    ("((a) b", 7, 'expected ")"'),
    ("a )", 3, 'no "(" to close'),
    ("net:300.1.1.1/8", 5, "not a CIDR network"),
    ("nginx net:10.0.0.0/33", 11, "not a CIDR network"),
    ("foo:bar", 1, 'unknown field "foo"'),
    ("port:22 -prot:22", 10, 'unknown field "prot"'),
    ('title:"abc', 7, "unterminated quoted string"),
    ('"abc', 1, "unterminated quoted string"),
    ('a "b" "c', 7, "unterminated quoted string"),
    ("port:abc", 6, "whole number"),
    ("port:80,abc", 9, "whole number"),
    ("port:2000-1000", 6, "empty range"),
    ("port:[1 TO x]", 12, "whole number"),
    ("port:[1 TO", 11, "range bound"),
    ("port:[1 2]", 9, '"TO"'),
    ("after:yesterday", 7, "expected a date"),
    ("after:2026-13-01", 7, "expected a date"),
    ("after:>2026-01-01", 7, "takes one date"),
    ("version:<abc", 10, "expected a version"),
    ("product:>x", 9, "cannot be compared"),
    ("tag:[a TO b]", 6, "no ranges"),
    ("ssl:maybe", 5, "true or false"),
    ("ssl:true,false", 10, "not a list"),
    ("severity:huge", 10, "info, low, medium, high, critical"),
    ("ip:127.20.0.300", 4, "not an IP address"),
    ("ip:>10.0.0.0/8", 5, "not a network"),
    ("OR a", 1, "expected a search term"),
    ("a OR", 5, 'expected a search term after "OR"'),
    ("a AND AND b", 7, "expected a search term"),
    ("-", 2, "expected a search term"),
    ("()", 2, "expected a search term"),
    ("port:,", 6, "expected a value"),
    ("port:80,", 9, "expected a value"),
])
def test_error_column(text: str, column: int, needle: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    err = info.value
    assert needle in str(err)
    assert err.column == column, str(err)
    assert err.query == text
    assert isinstance(err, ValueError)


def test_error_rendering_points_at_the_column() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("port:>>")
    assert str(info.value) == (
        'syntax error at column 7: expected a value after "port:>", found ">"\n'
        "  port:>>\n"
        "        ^"
    )
    assert info.value.expected == ["a value", "a quoted string"]


def test_expected_lists_what_fits() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("port:")
    assert "a value" in info.value.expected
    assert any("comparison" in e for e in info.value.expected)
    with pytest.raises(QuerySyntaxError) as info:
        parse("(a")
    assert info.value.expected == ['")"']
    with pytest.raises(QuerySyntaxError) as info:
        parse("port:x")
    assert info.value.expected[0] == "a whole number"


def test_unknown_field_suggests_close_names() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("prot:22")
    assert "port:" in info.value.expected
    assert "did you mean" in str(info.value)
    with pytest.raises(QuerySyntaxError) as info:
        parse("http:x")  # a section name: offer its fields
    assert "http.title:" in info.value.expected
    with pytest.raises(QuerySyntaxError) as info:
        parse("zzzzzz:1")
    assert info.value.expected == ["a known field"]


def test_error_rendering_survives_control_characters() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("a\nport:")
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[2].index("^") - 2 == info.value.column - 1


# -- limits: hostile input fails cleanly ------------------------------------------------------
def test_limits() -> None:
    with pytest.raises(QuerySyntaxError, match="too long"):
        parse("a " * 3000)
    with pytest.raises(QuerySyntaxError, match="too many"):
        parse("a " * 500)
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse("(a OR " * 500 + "b" + ")" * 500)
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse("(a (b OR " * 300 + "b" + "))" * 300)
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse("NOT " * 900 + "a")
    with pytest.raises(QuerySyntaxError):
        parse("port:" + "9" * 400)
    # Parentheses alone add no depth: they make no node.
    assert parse("(" * 1000 + "a" + ")" * 1000).root == Text("a")


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        parse(None)  # type: ignore[arg-type]
