from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netatlas.scope import (
    NO_ALLOW,
    RESERVED,
    OutOfScope,
    Scope,
    ScopeError,
    parse_targets,
)


def test_allow_list_is_required() -> None:
    with pytest.raises(ScopeError, match="no allow list: name what you may scan with --allow"):
        Scope([])
    with pytest.raises(ScopeError) as info:
        Scope([], exclude=["127.20.0.1"])
    assert str(info.value) == NO_ALLOW


def test_outside_allow_message() -> None:
    scope = Scope(["127.20.0.0/16"])
    with pytest.raises(OutOfScope) as info:
        scope.check_ip("127.30.0.1")
    assert str(info.value) == "127.30.0.1 is outside the allow list (127.20.0.0/16)"
    assert not scope.is_allowed("127.30.0.1")
    assert not scope.is_allowed("::1")
    assert not scope.is_allowed("not-an-ip")


def test_allow_carves_exactly_its_part_out_of_the_reserved_deny() -> None:
    scope = Scope(["127.20.0.0/16"])
    assert scope.is_allowed("127.20.0.1")
    assert scope.is_allowed("127.20.255.255")
    scope.check_ip(ipaddress.ip_address("127.20.3.4"))
    # the rest of loopback stays denied even when also allowed by a broader entry
    wide = Scope(["127.20.0.0/16", "0.0.0.0/0"])
    assert wide.is_allowed("127.20.0.1")
    with pytest.raises(OutOfScope) as info:
        wide.check_ip("127.21.0.1")
    assert str(info.value) == "127.21.0.1 is in the deny list (reserved: 127.0.0.0/8 loopback)"


def test_a_broad_allow_lifts_no_reserved_block() -> None:
    scope = Scope(["0.0.0.0/0", "::/0"])
    for ip in [
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "169.254.1.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.20.0.1",
        "64:ff9b::1",
    ]:
        with pytest.raises(OutOfScope, match="is in the deny list \\(reserved: "):
            scope.check_ip(ip)
    assert scope.is_allowed("8.8.8.8")  # a decision only: nothing is ever sent here
    assert scope.is_allowed("2606:4700::1111")
    with pytest.raises(OutOfScope, match=r"\(reserved: 10.0.0.0/8 private-use\)"):
        scope.check_ip("10.1.2.3")


def test_nested_reserved_blocks_need_their_own_allow() -> None:
    scope = Scope(["240.0.0.0/4"])
    assert scope.is_allowed("240.0.0.1")
    assert not scope.is_allowed("255.255.255.255")
    assert Scope(["255.255.255.255"]).is_allowed("255.255.255.255")


def test_every_reserved_block_is_denied_by_default() -> None:
    scope = Scope(["0.0.0.0/0", "::/0"])
    for cidr, _ in RESERVED:
        net = ipaddress.ip_network(cidr)
        for ip in (net.network_address, net.broadcast_address):
            assert not scope.is_allowed(ip), ip


def test_user_excludes_always_win() -> None:
    scope = Scope(["127.20.0.0/16"], exclude=["127.20.0.9", "127.20.1.0/24"])
    with pytest.raises(OutOfScope) as info:
        scope.check_ip("127.20.0.9")
    assert str(info.value) == "127.20.0.9 is in the deny list (excluded: 127.20.0.9)"
    assert not scope.is_allowed("127.20.1.77")
    assert scope.is_allowed("127.20.0.10")
    # even when the same address is named in the allow list
    assert not Scope(["127.20.0.9"], exclude=["127.20.0.9"]).is_allowed("127.20.0.9")


def test_scope_files(tmp_path: Path) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("# lab\n127.20.0.0/24   # web\n\n127.20.5.1-10, 127.20.6.1\n")
    deny = tmp_path / "optout.txt"
    deny.write_text("127.20.0.7 # asked to be left alone\n")
    scope = Scope([], allow_files=[allow], exclude_files=[deny])
    assert scope.is_allowed("127.20.0.1")
    assert scope.is_allowed("127.20.5.10")
    assert scope.is_allowed("127.20.6.1")
    assert not scope.is_allowed("127.20.5.11")
    with pytest.raises(OutOfScope, match=r"excluded: 127.20.0.7 \(.*optout.txt\)"):
        scope.check_ip("127.20.0.7")


def test_bad_scope_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "allow.txt"
    bad.write_text("127.20.0.0/24\n127.20.0.300\n")
    with pytest.raises(ScopeError, match=r"allow.txt:2: bad target '127.20.0.300'"):
        Scope([], allow_files=[bad])
    with pytest.raises(ScopeError, match="cannot read scope file"):
        Scope([], allow_files=[tmp_path / "missing.txt"])
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(ScopeError, match="no allow list"):
        Scope([], allow_files=[empty])


def test_check_targets_refuses_the_whole_scan_naming_the_first_offender() -> None:
    scope = Scope(["127.20.0.0/16"])
    targets = parse_targets(["127.20.0.1", "127.20.255.250-127.21.0.3", "127.30.0.0/24"])
    with pytest.raises(OutOfScope) as info:
        scope.check_targets(targets)
    message = str(info.value)
    assert "'127.20.255.250-127.21.0.3' (127.21.0.0)" in message
    assert "outside the allow list (127.20.0.0/16)" in message
    assert "127.30.0.0/24" not in message


def test_check_targets_names_the_hostname() -> None:
    scope = Scope(["127.20.0.0/16"])
    with pytest.raises(OutOfScope, match=r"'localhost' \(127.0.0.1\)"):
        scope.check_targets(parse_targets(["localhost"], family=4))


def test_denied_targets_inside_allow_are_skipped_and_counted() -> None:
    scope = Scope(["127.20.0.0/16", "10.0.0.0/8"], exclude=["127.20.0.5"])
    wide = Scope(["0.0.0.0/0"])
    targets = parse_targets(["127.20.0.0/29"])
    permitted = scope.permitted(targets)
    assert permitted.skipped == 1
    assert sum(b - a + 1 for a, b in permitted.v4) == 7
    # allowed by 0.0.0.0/0 but reserved: skipped, not an error
    assert wide.permitted(parse_targets(["10.0.0.0/30", "192.0.2.0/30"])).skipped == 8
    assert wide.permitted(parse_targets(["10.0.0.0/30"])).v4 == []


def test_many_allow_entries_are_summarised() -> None:
    scope = Scope([f"127.20.{i}.0/24" for i in range(6)])
    with pytest.raises(
        OutOfScope,
        match=r"\(127.20.0.0/24, 127.20.1.0/24, 127.20.2.0/24, … "
        r"\(\+3 more\)\)",
    ):
        scope.check_ip("127.30.0.1")


def test_hostnames_in_scope_lists_only_with_resolve() -> None:
    with pytest.raises(ScopeError, match="host names are not accepted"):
        Scope(["localhost"])
    assert Scope(["localhost"], resolve=True).is_allowed("127.0.0.1")
