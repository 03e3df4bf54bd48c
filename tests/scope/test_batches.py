"""TargetSpace.batches: the walk of iter_endpoints, a batch of arrays at a time.

Every case compares against the per-probe walk (positions, addresses, ports, in order):
shards, resume positions, several intervals with a deny list, mixed transports, batch
sizes, and the walk past 2**32 (no vectorised powers there). Port 2024 is excluded
everywhere and never comes out.
"""

from __future__ import annotations

import ipaddress
from itertools import islice

import numpy as np
import pytest

from netatlas.scope import (
    Permutation,
    Scope,
    ScopeError,
    TargetSpace,
    exclude_ports,
    iter_endpoints,
    parse_ports,
    parse_targets,
)
from netatlas.scope.batches import CHUNK, ProbeBatches

FORBIDDEN_PORT = 2024

Row = tuple[int, int, int]


def _space(targets: list[str], ports: str, allow: list[str],
           deny: list[str] | None = None) -> TargetSpace:
    return TargetSpace(parse_targets(targets, resolve=False),
                       exclude_ports(parse_ports(ports), str(FORBIDDEN_PORT)),
                       Scope(allow, exclude=deny or []))


def _walk(space: TargetSpace, perm: Permutation, position: int, transport: str = "tcp",
          limit: int | None = None) -> list[Row]:
    probes = (pe for pe in iter_endpoints(space, perm, position)
              if pe[1].transport == transport)
    return [(pos, int(ipaddress.ip_address(ep.ip)), ep.port)
            for pos, ep in islice(probes, limit)]


def _batches(source: ProbeBatches, n: int, limit: int | None = None) -> list[Row]:
    out: list[Row] = []
    while limit is None or len(out) < limit:
        positions, addrs, ports = source.take(n)
        assert positions.dtype == np.int64 and addrs.dtype == np.uint32
        assert ports.dtype == np.uint16
        assert len(positions) == len(addrs) == len(ports) <= n
        out += zip(positions.tolist(), addrs.tolist(), ports.tolist(), strict=True)
        if len(positions) < n:
            assert source.exhausted
            assert len(source.take(n)[0]) == 0  # over, and stays over
            break
    return out[:limit] if limit is not None else out


CASES = [
    (["127.20.0.0/22"], "80", ["127.20.0.0/16"], None),
    (["127.20.0.0/24", "127.20.5.0/26", "127.21.0.1"], "T:1-30,T:2024,U:53,U:161",
     ["127.20.0.0/15"], ["127.20.0.128/27"]),
    (["127.20.0.0/24"], "2000-2049", ["127.20.0.0/16"], None),
]


@pytest.mark.parametrize(("targets", "ports", "allow", "deny"), CASES)
def test_batches_are_the_walk(targets: list[str], ports: str, allow: list[str],
                              deny: list[str] | None) -> None:
    space = _space(targets, ports, allow, deny)
    for shard in ((0, 1), (1, 3), (2, 3)):
        for seed in (1, 99):
            perm = Permutation(space.size, seed=seed, shard=shard)
            for position in (0, 1, perm.steps // 3, perm.steps):  # resume points
                for transport in ("tcp", "udp"):
                    want = _walk(space, perm, position, transport)
                    for n in (1, 7, 1024, CHUNK + 5):
                        got = _batches(space.batches(perm, position, transport), n)
                        assert got == want, (shard, seed, position, transport, n)
                        assert all(port != FORBIDDEN_PORT for _, _, port in got)


def test_shards_of_batches_cover_the_space_once() -> None:
    space = _space(["127.20.0.0/24", "127.20.9.0/25"], "T:1-20,U:7", ["127.20.0.0/16"])
    seen: list[tuple[int, int]] = []
    for i in range(4):
        perm = Permutation(space.size, seed=5, shard=(i, 4))
        seen += [(a, p) for _, a, p in _batches(space.batches(perm), 333)]
    assert len(seen) == len(set(seen)) == space.size * 20 // 21


def test_past_two_to_the_32_the_walk_is_stepped_in_python() -> None:
    """A /8 x 300 ports is 5e9 endpoints: the prime is above 2**32, where x * g**k no
    longer fits 64 bits, so each step is one Python multiplication — the same walk."""
    space = _space(["127.0.0.0/8"], "1-301", ["127.0.0.0/8"])
    perm = Permutation(space.size, seed=3, shard=(1, 2))
    assert perm.prime > 2**32 and space.size > 2**32
    for position in (0, perm.steps // 2, perm.steps - 5000):
        source = space.batches(perm, position)
        assert source._powers is None
        assert _batches(source, 1000, 5000) == _walk(space, perm, position, limit=5000)


def test_an_ipv6_probe_stops_the_walk() -> None:
    space = TargetSpace(parse_targets(["127.20.0.0/30", "::1"], resolve=False),
                        parse_ports("80"), Scope(["127.20.0.0/16", "::1"]))
    perm = Permutation(space.size, seed=1)
    with pytest.raises(ValueError, match=r"IPv4 only; ::1 needs --connect"):
        _batches(space.batches(perm), 100)


def test_bad_arguments() -> None:
    space = _space(["127.20.0.0/30"], "80", ["127.20.0.0/16"])
    perm = Permutation(space.size, seed=1)
    with pytest.raises(ScopeError, match="bad position"):
        space.batches(perm, perm.steps + 1)
    with pytest.raises(ScopeError, match="does not match"):
        space.batches(Permutation(space.size + 1, seed=1))
    source = space.batches(perm, perm.steps)  # a finished shard: nothing more
    assert source.exhausted and len(source.take(10)[0]) == 0
