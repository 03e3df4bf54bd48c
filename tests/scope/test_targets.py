from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netatlas.scope import ScopeError, parse_targets
from netatlas.scope.targets import ip_to_str


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def test_single_addresses_and_cidrs() -> None:
    t = parse_targets(["127.20.0.1", "127.20.1.0/30", "::1", "2001:db8::/126"])
    assert t.v4 == [(v4("127.20.0.1"), v4("127.20.0.1")), (v4("127.20.1.0"), v4("127.20.1.3"))]
    doc = int(ipaddress.IPv6Address("2001:db8::"))
    assert t.v6 == [(1, 1), (doc, doc + 3)]
    assert t.size == 1 + 4 + 1 + 4


def test_cidr_with_host_bits_means_the_network() -> None:
    t = parse_targets(["127.20.7.9/24"])
    assert t.v4 == [(v4("127.20.7.0"), v4("127.20.7.255"))]


def test_dash_ranges_long_and_short() -> None:
    long = parse_targets(["127.20.0.1-127.20.0.50"])
    short = parse_targets(["127.20.0.1-50"])
    assert long.v4 == short.v4 == [(v4("127.20.0.1"), v4("127.20.0.50"))]
    assert parse_targets(["127.20.0.250-127.20.1.5"]).size == 12
    v6 = parse_targets(["::1-::5", "fe80::1-ff"])
    assert v6.v6[0] == (1, 5)
    assert v6.v6[1][1] - v6.v6[1][0] == 0xFE


def test_comma_lists_merge_and_deduplicate() -> None:
    t = parse_targets(["127.20.0.1,127.20.0.2", "127.20.0.3 127.20.0.0/30"])
    assert t.v4 == [(v4("127.20.0.0"), v4("127.20.0.3"))]
    assert [e.spec for e in t.entries] == [
        "127.20.0.1",
        "127.20.0.2",
        "127.20.0.3",
        "127.20.0.0/30",
    ]
    assert list(t.addresses()) == [f"127.20.0.{i}" for i in range(4)]
    assert "127.20.0.2" in t and "127.20.0.9" not in t and "nonsense" not in t


def test_localhost_is_resolved_once_and_mapped() -> None:
    t = parse_targets(["localhost", "localhost"], family=4)
    assert "127.0.0.1" in t
    assert t.hostnames["127.0.0.1"] == ["localhost"]
    assert len([e for e in t.entries if e.version == 4]) >= 2  # both specs kept


def test_hostname_resolution_goes_through_getaddrinfo_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = socket.getaddrinfo

    def counting(host: str, *args: object, **kw: object) -> object:
        calls.append(host)
        return real("localhost", *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    t = parse_targets(["lab-host.example", "LAB-HOST.example.", "lab-host.example"], family=4)
    assert calls == ["lab-host.example"]
    assert t.hostnames["127.0.0.1"] == ["lab-host.example"]


def test_hostnames_refused_without_resolve() -> None:
    with pytest.raises(ScopeError, match="'localhost'"):
        parse_targets(["localhost"], resolve=False)


def test_unresolvable_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kw: object) -> object:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(ScopeError, match=r"'no-such-host\.invalid': cannot resolve"):
        parse_targets(["no-such-host.invalid"])


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("127.20.0.1-300", "not an octet"),
        ("127.20.0.9-127.20.0.1", "before its start"),
        ("127.20.0.1-::1", "mixes IPv4 and IPv6"),
        ("10.0.0.0/33", "prefix length"),
        ("10.0.0.0/", "prefix length"),
        ("10.0.0.0/x", "prefix length"),
        ("1.2.3", "not an IP address"),
        ("127.1", "not an IP address"),  # inet_aton shorthand is never resolved
        ("256.1.1.1", "not an IP address"),
        ("1.2.3.4.5", "not an IP address"),
        ("foo..bar", "not an address"),
        ("-", "not an IP address"),
        ("127.20.0.1-", "range has no end"),
        ("fe80::1%eth0", "zone"),
        ("::1-zz", "not a hex group"),
        ("0x7f.1", "not an address"),
    ],
)
def test_bad_specs_name_the_spec(spec: str, reason: str) -> None:
    with pytest.raises(ScopeError) as info:
        parse_targets([spec])
    assert repr(spec) in str(info.value)
    assert reason in str(info.value)


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 300)), max_size=8))
def test_ranges_match_a_plain_set(ranges: list[tuple[int, int]]) -> None:
    specs = []
    expected: set[int] = set()
    for start, length in ranges:
        end = min(start + length, 2**32 - 1)
        specs.append(f"{ip_to_str(4, start)}-{ip_to_str(4, end)}")
        expected.update(range(start, end + 1))
    t = parse_targets(specs)
    got = {value for first, last in t.v4 for value in range(first, last + 1)}
    assert got == expected
    assert t.size == len(expected)
    # merged: sorted, disjoint and not adjacent
    for (_, last), (first, _) in zip(t.v4, t.v4[1:], strict=False):
        assert first > last + 1


@given(st.integers(0, 2**128 - 1))
def test_ip_text_matches_ipaddress(value: int) -> None:
    assert ip_to_str(6, value) == str(ipaddress.IPv6Address(value))
    assert ip_to_str(4, value % 2**32) == str(ipaddress.IPv4Address(value % 2**32))


@pytest.mark.parametrize("value", [0, 1, 0xFFFF_0102_0304, 0x0102_0304, 2**128 - 1])
def test_ip_text_edge_forms(value: int) -> None:
    assert ip_to_str(6, value) == str(ipaddress.IPv6Address(value))
