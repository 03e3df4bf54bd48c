"""Version ordering used by version:<x, and the byte key stores index it by."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netatlas.query.versions import compare_versions, version_key

ASCENDING = ["1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.1", "1.1.1", "1.1.1a", "1.1.1k",
             "1.1.2", "1.9", "1.10", "1.22rc1", "1.22", "1.22p1", "1.22.1", "7.4", "8.0p1",
             "8.9", "8.9p1", "9.2p1", "10"]


@pytest.mark.parametrize("i", range(len(ASCENDING) - 1))
def test_ascending(i: int) -> None:
    a, b = ASCENDING[i], ASCENDING[i + 1]
    assert compare_versions(a, b) == -1, (a, b)
    assert compare_versions(b, a) == 1, (b, a)


@pytest.mark.parametrize(("a", "b"), [
    ("8.0", "8.0.0"), ("v1.2", "1.2"), ("2.4.41 (Ubuntu)", "2.4.41"), ("1.0-RC1", "1.0rc1"),
])
def test_equal(a: str, b: str) -> None:
    assert compare_versions(a, b) == 0


@pytest.mark.parametrize("text", [None, "", "unknown", "abc1.0", "(1.0)"])
def test_not_a_version(text: str | None) -> None:
    assert version_key(text) is None
    assert compare_versions(text, "1.0") is None


def test_sort_key_orders_as_compare() -> None:
    from netatlas.query.versions import version_sort_key

    keys = [version_sort_key(v) for v in ASCENDING]
    assert all(k is not None for k in keys)
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert len(set(keys)) == len(keys)
    assert version_sort_key("8.0") == version_sort_key("8.0.0") == version_sort_key("v8")
    assert version_sort_key("unknown") is None


# ASCII digits: a Unicode digit is no version (test_unicode_digits_are_no_version)
_VERSIONS = st.from_regex(
    r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,3}([a-z]{1,2}[0-9]{0,2}|[-.](rc|beta|alpha|p)[0-9]?)?",
    fullmatch=True)


@given(_VERSIONS, _VERSIONS)
def test_sort_key_agrees_with_compare(a: str, b: str) -> None:
    from netatlas.query.versions import version_sort_key

    ka, kb = version_sort_key(a), version_sort_key(b)
    assert ka is not None and kb is not None
    assert compare_versions(a, b) == (ka > kb) - (ka < kb)


@pytest.mark.parametrize("text", ["\u0663.1", "\uff11.0", "1.\u0662"])
def test_unicode_digits_are_no_version(text: str) -> None:
    # what a store's SQL function repeats exactly (store/postgres/versionkey.py): ASCII
    from netatlas.query.versions import version_sort_key

    assert version_sort_key(text) in (None, version_sort_key("1"))
