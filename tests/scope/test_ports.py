from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netatlas.scope import PortSet, ScopeError, exclude_ports, parse_ports, top_ports
from netatlas.scope.ports import top_ports_ordered


def test_simple_list_and_range() -> None:
    ps = parse_ports("22,80-83, 443,80")
    assert ps == PortSet(tcp=(22, 80, 81, 82, 83, 443))
    assert len(ps) == 6


@pytest.mark.parametrize("spec", ["-", "1-65535", "-65535", "1-"])
def test_all_ports(spec: str) -> None:
    ps = parse_ports(spec)
    assert ps.tcp == tuple(range(1, 65536))
    assert ps.udp == ()


def test_open_ranges() -> None:
    assert parse_ports("-1024").tcp == tuple(range(1, 1025))
    assert parse_ports("60000-").tcp == tuple(range(60000, 65536))


def test_port_zero_only_when_named() -> None:
    assert parse_ports("0").tcp == (0,)
    assert 0 not in parse_ports("-").tcp


def test_protocol_prefixes_carry_forward() -> None:
    ps = parse_ports("T:22,80,U:53,161,T:443")
    assert ps.tcp == (22, 80, 443)
    assert ps.udp == (53, 161)
    assert ps.pairs()[0] == (22, "tcp") and ps.pairs()[-1] == (161, "udp")
    assert parse_ports("u:53").udp == (53,)


def test_default_transport() -> None:
    assert parse_ports("53", default="udp") == PortSet(udp=(53,))


@pytest.mark.parametrize(
    ("spec", "position", "reason"),
    [
        ("", None, "no ports"),
        ("22,,80", 4, "empty item"),
        ("22,http", 4, "not a port number"),
        ("70000", 1, "above 65535"),
        ("80-70000", 4, "above 65535"),
        ("90-80", 1, "ends before it starts"),
        ("S:22", 1, "unknown protocol prefix"),
        ("T:", 3, "empty item"),
        ("1-2-3", 3, "not a port number"),
        ("22, x", 5, "not a port number"),
    ],
)
def test_errors_give_position_and_reason(spec: str, position: int | None, reason: str) -> None:
    with pytest.raises(ScopeError) as info:
        parse_ports(spec)
    message = str(info.value)
    assert reason in message
    if position is not None:
        assert f"at position {position}:" in message


def test_exclude_ports() -> None:
    ps = parse_ports("T:20-25,2024,U:53,2024")
    assert exclude_ports(ps, "2024") == PortSet(tcp=(20, 21, 22, 23, 24, 25), udp=(53,))
    assert exclude_ports(ps, "T:2024").udp == (53, 2024)
    assert exclude_ports(ps, "U:53,T:21-23").tcp == (20, 24, 25, 2024)
    assert exclude_ports(ps, PortSet(tcp=(20,))).tcp == (21, 22, 23, 24, 25, 2024)
    with pytest.raises(ScopeError):
        exclude_ports(ps, "2024-1")


def test_top_ports_tables() -> None:
    assert top_ports_ordered(3) == (80, 443, 22)
    assert top_ports(3) == PortSet(tcp=(22, 80, 443))
    assert top_ports(1, "udp") == PortSet(udp=(53,))
    tcp = top_ports_ordered(1000)
    assert len(tcp) == len(set(tcp)) == 1000
    assert all(1 <= p <= 65535 for p in tcp)
    udp = top_ports_ordered(100, "udp")
    assert len(set(udp)) == 100
    # the usual suspects are near the top
    top100 = set(top_ports_ordered(100))
    assert {21, 22, 23, 25, 53, 80, 110, 143, 443, 445, 3306, 3389, 5432, 6379, 8080} <= top100
    assert {53, 123, 161, 500} <= set(top_ports_ordered(10, "udp"))


@pytest.mark.parametrize(("n", "transport"), [(0, "tcp"), (-1, "tcp"), (10**6, "tcp"), (1, "sctp")])
def test_top_ports_errors(n: int, transport: str) -> None:
    with pytest.raises(ScopeError):
        top_ports(n, transport)  # type: ignore[arg-type]


@given(
    st.lists(
        st.tuples(st.integers(1, 65535), st.integers(0, 50), st.booleans()), min_size=1, max_size=10
    )
)
def test_parse_matches_a_plain_set(items: list[tuple[int, int, bool]]) -> None:
    tcp: set[int] = set()
    udp: set[int] = set()
    parts = []
    for start, length, is_udp in items:
        end = min(start + length, 65535)
        (udp if is_udp else tcp).update(range(start, end + 1))
        parts.append(f"{'U' if is_udp else 'T'}:{start}-{end}")
    ps = parse_ports(",".join(parts))
    assert ps.tcp == tuple(sorted(tcp))
    assert ps.udp == tuple(sorted(udp))
