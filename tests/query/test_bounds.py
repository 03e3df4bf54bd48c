"""Values outside what their field can hold are refused with the column and the bound
(issue 15 #7): ports are 0..65535, CVSS scores finite numbers 0..10, and a stray
bracket after a range is an error, not a search word."""

from __future__ import annotations

import pytest

from netatlas.query import QuerySyntaxError, parse
from netatlas.query.ast import Term


@pytest.mark.parametrize(("text", "column", "bound"), [
    ("port:-1", 6, "0 to 65535"),
    ("port:65536", 6, "0 to 65535"),
    ("port:>65536", 7, "0 to 65535"),
    ("port:80,70000", 9, "0 to 65535"),
    ("port:1-70000", 6, "0 to 65535"),
    ("port:[1 TO 65536]", 12, "0 to 65535"),
    ("port:[-5 TO 80]", 7, "0 to 65535"),
    ("http.status:1000", 13, "0 to 999"),
    ("cvss:inf", 6, "0 to 10"),
    ("cvss:nan", 6, "0 to 10"),
    ("cvss:>1e308", 7, "0 to 10"),
    ("cvss:11", 6, "0 to 10"),
    ("cvss:[1 TO 1e3]", 12, "0 to 10"),
    ("cvss:>-1", 7, "0 to 10"),
])
def test_out_of_bounds_values(text: str, column: int, bound: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)
    assert bound in info.value.message


@pytest.mark.parametrize(("text", "column"), [
    ("port:[1 TO 2]]", 14),
    ("port:80 ]", 9),
    ("[ssh", 1),
])
def test_stray_brackets(text: str, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("port:0", Term("port", "eq", (0,))),
    ("port:65535", Term("port", "eq", (65535,))),
    ("port:[0 TO 65535]", Term("port", "range", (0, 65535))),
    ("cvss:>=9", Term("cvss", "ge", ("9",))),
    ("cvss:[7.5 TO 10]", Term("cvss", "range", ("7.5", "10"))),
    ("cvss:0", Term("cvss", "eq", ("0",))),
])
def test_values_at_the_bounds_are_accepted(text: str, expected: Term) -> None:
    assert parse(text).root == expected


def test_brackets_inside_words_and_quotes_still_search() -> None:
    assert parse('"[error]"').root is not None
    assert parse("foo]").root is not None


@pytest.mark.parametrize(("text", "expected"), [
    ("port:" + "0" * 40 + "80", Term("port", "eq", (80,))),
    ("port:" + "0" * 40 + "80-" + "0" * 30 + "90", Term("port", "range", (80, 90))),
    ("port:>" + "0" * 3000 + "22", Term("port", "gt", (22,))),
    ("http.status:" + "0" * 25 + "200", Term("http.status", "eq", (200,))),
])
def test_leading_zeros_are_not_digits(text: str, expected: Term) -> None:
    """``port:000…080`` is port 80 (it was "expected a whole number", which it is)."""
    root = parse(text).root
    assert isinstance(root, Term)
    assert (root.field, root.op, root.values) == (expected.field, expected.op, expected.values)


@pytest.mark.parametrize(("text", "column"), [
    ("port:12345678901234567890123", 6),
    ("port:80,00012345678901234567890123", 9),
    ("port:[1 TO 12345678901234567890123]", 12),
    ("port:1-12345678901234567890123", 6),
])
def test_a_number_too_long_for_its_field_says_so(text: str, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)
    assert "(23 digits) is out of bounds: 0 to 65535" in info.value.message
    assert "whole number" not in info.value.message
