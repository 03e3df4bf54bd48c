from __future__ import annotations

import ipaddress
import itertools
import tracemalloc
from collections import Counter

import pytest

from netatlas.model import Endpoint
from netatlas.scope import (
    OutOfScope,
    Permutation,
    PortSet,
    Scope,
    ScopeError,
    TargetSpace,
    iter_endpoints,
    parse_ports,
    parse_targets,
)
from netatlas.scope import space as space_mod

LAB = Scope(["127.20.0.0/16", "::1"], exclude=["127.20.0.13"])


def make(targets: list[str], ports: str, scope: Scope = LAB) -> TargetSpace:
    return TargetSpace(parse_targets(targets, resolve=False), parse_ports(ports), scope)


def expected(targets: list[str], ports: PortSet, scope: Scope) -> set[Endpoint]:
    out = set()
    for ip in parse_targets(targets, resolve=False).addresses():
        if scope.is_allowed(ip):
            out.update(Endpoint(ip, port, t) for port, t in ports.pairs())
    return out


def test_sequential_mapping() -> None:
    space = make(["127.20.0.1-3"], "22,80,U:53")
    assert space.size == 9 and space.addresses == 3 and space.nports == 3
    assert space.endpoint(0) == Endpoint("127.20.0.1", 22, "tcp")
    assert space.endpoint(1) == Endpoint("127.20.0.1", 80, "tcp")
    assert space.endpoint(2) == Endpoint("127.20.0.1", 53, "udp")
    assert space.endpoint(8) == Endpoint("127.20.0.3", 53, "udp")
    with pytest.raises(IndexError):
        space.endpoint(9)
    with pytest.raises(IndexError):
        space.endpoint(-1)


def test_denied_addresses_are_skipped_and_counted() -> None:
    space = make(["127.20.0.10-20"], "80")
    assert space.skipped == 1
    assert space.addresses == 10
    assert Endpoint("127.20.0.13", 80) not in set(space)


def test_out_of_scope_targets_refuse_the_space() -> None:
    with pytest.raises(OutOfScope, match=r"'127\.30\.0\.0/24'"):
        make(["127.20.0.0/24", "127.30.0.0/24"], "80")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_permuted_walk_covers_the_space_exactly_once(seed: int) -> None:
    targets = ["127.20.0.0/28", "127.20.3.7", "127.20.9.250-127.20.10.5", "::1"]
    ports = parse_ports("22,80-82,U:53,161")
    space = TargetSpace(parse_targets(targets, resolve=False), ports, LAB)
    got = [ep for _, ep in iter_endpoints(space, Permutation(space.size, seed))]
    assert len(got) == space.size
    assert set(got) == expected(targets, ports, LAB)
    assert Counter(ep.transport for ep in got) == {
        "tcp": 4 * space.addresses,
        "udp": 2 * space.addresses,
    }
    for ep in got:
        assert str(ipaddress.ip_address(ep.ip)) == ep.ip  # canonical text
        assert space.index_of(ep) == space.index_of(Endpoint(ep.ip, ep.port, ep.transport))


def test_index_of_inverts_endpoint() -> None:
    space = make(["127.20.0.0/29", "127.20.5.5", "::1"], "22,U:53")
    for index in range(space.size):
        assert space.index_of(space.endpoint(index)) == index
    with pytest.raises(ValueError):
        space.index_of(Endpoint("127.20.0.13", 22))
    with pytest.raises(ValueError):
        space.index_of(Endpoint("127.20.0.1", 23))


def test_walk_matches_endpoint_for_each_index() -> None:
    space = make(["127.20.1.0/30", "127.20.7.0/31", "::1"], "1-5")
    perm = Permutation(space.size, seed=11)
    pairs = list(perm.iter_from(0))
    walked = list(iter_endpoints(space, perm))
    assert [pos for pos, _ in walked] == [pos for pos, _ in pairs]
    assert [ep for _, ep in walked] == [space.endpoint(i) for _, i in pairs]


def test_single_block_fast_path_matches_endpoint() -> None:
    space = make(["127.20.0.0/24"], "80,443,U:53")
    perm = Permutation(space.size, seed=4)
    for (pos, ep), (pos2, index) in zip(
        iter_endpoints(space, perm), perm.iter_from(0), strict=True
    ):
        assert pos == pos2 and ep == space.endpoint(index)


def test_resume_and_shards_through_iter_endpoints() -> None:
    space = make(["127.20.0.0/26"], "22,80,443")
    full = list(iter_endpoints(space, Permutation(space.size, seed=8)))
    perm = Permutation(space.size, seed=8)
    assert list(iter_endpoints(space, perm, start_position=100)) == [
        item for item in full if item[0] >= 100
    ]
    union: list[Endpoint] = []
    for i in range(4):
        union += [ep for _, ep in iter_endpoints(space, Permutation(space.size, 8, (i, 4)))]
    assert sorted(union) == sorted(ep for _, ep in full)


def test_permutation_must_fit_the_space() -> None:
    space = make(["127.20.0.0/30"], "80")
    with pytest.raises(ScopeError, match="does not match"):
        iter_endpoints(space, Permutation(space.size + 1, seed=1))
    with pytest.raises(ScopeError, match="bad position"):
        iter_endpoints(space, Permutation(space.size, seed=1), start_position=-5)


def test_empty_space() -> None:
    space = make(["127.20.0.13"], "80")  # only a denied address
    assert space.size == 0 and space.skipped == 1
    assert list(iter_endpoints(space, Permutation(0, seed=1))) == []


def test_hostnames_carried() -> None:
    scope = Scope(["127.0.0.1"])
    space = TargetSpace(parse_targets(["localhost"], family=4), parse_ports("80"), scope)
    assert space.hostnames == {"127.0.0.1": ["localhost"]}


def test_fallback_without_slot_tricks(monkeypatch: pytest.MonkeyPatch) -> None:
    space = make(["127.20.0.0/29", "::1"], "22,U:53")
    perm = Permutation(space.size, seed=2)
    fast = list(iter_endpoints(space, perm))
    monkeypatch.setattr(space_mod, "_SLOTS", None)
    assert list(iter_endpoints(space, perm)) == fast
    assert all(type(ep) is Endpoint for _, ep in fast)
    assert {hash(ep) for _, ep in fast} == {
        hash(Endpoint(ep.ip, ep.port, ep.transport)) for _, ep in fast
    }


def test_a_slash8_is_never_materialised() -> None:
    scope = Scope(["127.0.0.0/8"])  # lifts the loopback deny for the whole /8
    targets, ports = parse_targets(["127.0.0.0/8"]), parse_ports("80")
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        space = TargetSpace(targets, ports, scope)
        perm = Permutation(space.size, seed=1)
        assert space.size == 2**24
        for _pos, _ep in itertools.islice(iter_endpoints(space, perm), 100_000):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 100k endpoints of ~100 bytes each would be ~10 MB; we hold one at a time.
    assert peak - base < 64 * 1024
