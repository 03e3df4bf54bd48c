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
