"""The sharing checks (assess/checks/sharing.py) end to end against real servers started
on loopback by the test, each with a case that must fire and one that must not: grab,
identify and assess as a scan does, then the exact set of findings. NFS's mountd cannot
run in a container: its export list comes from tests/grab/rpc_bytes.py's mount daemon,
registered with Debian's real rpcbind (tests/grab/test_portmap.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netatlas.assess import assess
from netatlas.assess.findings import Finding
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation
from tests.grab.sharing_servers import rsync_daemon, slapd, xvfb

IP = "127.20.250.85"
Server = Callable[[Path], contextlib.AbstractContextManager[int]]

CASES: dict[str, tuple[Server, set[str]]] = {
    "rsync-listed": (lambda d: rsync_daemon(d, IP), {"rsync-anonymous-modules"}),
    "rsync-unlisted": (lambda d: rsync_daemon(d, IP, listed=False), set()),
    "x11-open": (lambda d: xvfb(d, IP, open_access=True), {"x11-open"}),
    "x11-cookie": (lambda d: xvfb(d, IP, open_access=False), set()),
    "ldap-readable": (lambda d: slapd(d, IP, anonymous_read=True), {"ldap-anonymous-read"}),
    "ldap-acl": (lambda d: slapd(d, IP, anonymous_read=False), set()),
}


async def observe(port: int) -> tuple[Observation, list[Finding]]:
    ep = Endpoint(IP, port)
    res = await grab_endpoint(ep, GrabOptions())
    obs = Observation.build(ep, "t", res, Identifier().identify(res, ep))
    return obs, assess(obs)


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    start, _ = CASES[request.param]
    with start(tmp_path) as port:
        yield port


@pytest.mark.parametrize(("server", "want"), [(name, want) for name, (_, want) in
                                              CASES.items()],
                         indirect=["server"], ids=list(CASES))
async def test_findings_on_real_servers(server: int, want: set[str]) -> None:
    obs, findings = await observe(server)
    assert {f.id for f in findings} == want, (obs.service, obs.sections)
    for f in findings:  # evidence quotes what the server said, on one short line
        assert f.evidence and len(f.evidence) <= 200 and "\n" not in f.evidence
