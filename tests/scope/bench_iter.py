"""Iteration rate of iter_endpoints (not a test): ``python -m tests.scope.bench_iter``.

Pulls endpoints in permutation order from a /16 x 100 ports space, as discover does.
"""

from __future__ import annotations

import itertools
import sys
import time

from netatlas.scope import (
    Permutation,
    Scope,
    TargetSpace,
    iter_endpoints,
    parse_ports,
    parse_targets,
)


def rate(targets: list[str], ports: str, n: int = 3_000_000) -> float:
    scope = Scope(["127.20.0.0/15", "::1"])
    space = TargetSpace(parse_targets(targets), parse_ports(ports), scope)
    perm = Permutation(space.size, seed=1)
    n = min(n, space.size)
    start = time.perf_counter()
    for _ in itertools.islice(iter_endpoints(space, perm), n):
        pass
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    cases = [
        (["127.20.0.0/16"], "1-100"),
        (["127.20.0.0/17", "127.21.0.0/17"], "1-100"),
        (["127.20.0.0/16", "::1"], "T:1-50,U:1-50"),
    ]
    for targets, ports in cases:
        r = rate(targets, ports, int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000)
        print(f"{' '.join(targets):36} x {ports:16} {r / 1e6:.2f} M endpoints/s")
