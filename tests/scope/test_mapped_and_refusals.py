"""IPv4-mapped IPv6 is normalised before every scope decision, and what the policy
refuses is said with its reason (issue 15 #5)."""

from __future__ import annotations

import ipaddress

import pytest

from netatlas.scope import (
    OutOfScope,
    Scope,
    ScopeError,
    TargetSpace,
    exclude_ports,
    parse_ports,
    parse_targets,
)
from netatlas.scope.refusals import require_something_to_scan


def test_mapped_allow_does_not_lift_the_ipv4_deny_list() -> None:
    scope = Scope(["::ffff:0:0/96"])
    assert not scope.is_allowed("::ffff:127.99.0.1")
    assert not scope.is_allowed("::ffff:10.0.0.1")
    reason = scope.deny_reason("::ffff:127.99.0.1")
    assert reason is not None and "loopback" in reason
    space = TargetSpace(parse_targets(["::ffff:127.99.0.1"], resolve=False),
                        parse_ports("80"), scope)
    assert space.size == 0 and space.skipped == 1


def test_mapped_target_is_checked_as_its_ipv4_address() -> None:
    v4 = Scope(["127.20.0.0/24"])
    assert v4.is_allowed("::ffff:127.20.0.5")  # the same host, written the v6 way
    assert not v4.is_allowed("::ffff:127.21.0.5")
    with pytest.raises(OutOfScope, match="outside the allow list"):
        v4.check_ip("::ffff:127.21.0.5")
    space = TargetSpace(parse_targets(["::ffff:127.20.0.5"], resolve=False),
                        parse_ports("80"), v4)
    assert [e.ip for e in space] == ["127.20.0.5"]  # connects to the IPv4 address


def test_mapped_exclude_applies_to_ipv4() -> None:
    scope = Scope(["127.20.0.0/24"], exclude=["::ffff:127.20.0.7"])
    assert not scope.is_allowed("127.20.0.7")
    assert not scope.is_allowed(ipaddress.ip_address("::ffff:127.20.0.7"))
    assert scope.is_allowed("127.20.0.8")


def test_mapped_range_partly_outside_is_refused() -> None:
    scope = Scope(["127.20.0.0/24"])
    with pytest.raises(OutOfScope, match="outside the allow list"):
        scope.check_targets(parse_targets(["::ffff:127.20.0.0/120", "::ffff:127.21.0.1"],
                                          resolve=False))


def test_nat64_and_6to4_are_not_translated() -> None:
    scope = Scope(["64:ff9b::/96", "2002::/16"])  # lifted on purpose: stays IPv6
    assert scope.is_allowed("64:ff9b::7f00:1")
    assert scope.is_allowed("2002:7f00:1::1")
    assert not Scope(["127.0.0.0/8"]).is_allowed("64:ff9b::7f00:1")


def test_refusals_say_what_and_why() -> None:
    scope = Scope(["127.20.0.0/24"], exclude=["127.20.0.7"])
    space = TargetSpace(parse_targets(["127.20.0.7", "127.20.0.13", "127.20.0.20"],
                                      resolve=False), parse_ports("80"), scope)
    assert space.skipped == 1
    assert space.refused == [("127.20.0.7", "excluded: 127.20.0.7")]


def test_nothing_left_is_an_error_with_the_reasons() -> None:
    scope = Scope(["127.20.0.0/24"], exclude=["127.20.0.0/28"])
    space = TargetSpace(parse_targets(["127.20.0.1", "127.20.0.2-127.20.0.4"],
                                      resolve=False), parse_ports("80"), scope)
    with pytest.raises(ScopeError) as err:
        require_something_to_scan(space)
    text = str(err.value)
    assert "nothing to scan" in text and "127.20.0.1" in text
    assert "excluded: 127.20.0.0/28" in text


def test_no_ports_left_is_an_error() -> None:
    scope = Scope(["127.20.0.0/24"])
    ports = exclude_ports(parse_ports("2024"), "2024")  # every port excluded
    space = TargetSpace(parse_targets(["127.20.0.1"], resolve=False), ports, scope)
    with pytest.raises(ScopeError, match="no port"):
        require_something_to_scan(space)


def test_something_left_passes() -> None:
    scope = Scope(["127.20.0.0/24"])
    space = TargetSpace(parse_targets(["127.20.0.1"], resolve=False), parse_ports("80"),
                        scope)
    require_something_to_scan(space)  # no error
    assert space.refused == []
