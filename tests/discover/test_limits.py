from __future__ import annotations

import resource

from netatlas.discover._limits import fd_budget


def test_budget_fits_the_soft_limit() -> None:
    got = fd_budget(10**9)
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 1 <= got < soft or soft == resource.RLIM_INFINITY


def test_small_request_is_granted() -> None:
    assert fd_budget(10) == 10
