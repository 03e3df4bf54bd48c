"""The open-proxy check without --proxy-canary: its canary is an HTTP service the same
scan found inside its scope (grab/engine/canary.py), whichever of the two the scan reached
first; a scope with no such service asks nobody."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netatlas import pipeline
from netatlas.grab.engine.canary import CanaryPool, wants_canary
from netatlas.model import Endpoint, GrabResult
from netatlas.store import open_store


def result(status: int = 200, **http: Any) -> GrabResult:
    return GrabResult(status="success", service="http",
                      sections={"http": {"status": status, "headers": {}, **http}})


def test_pool_keeps_plain_http_pages_in_scope() -> None:
    pool = CanaryPool(lambda ip: ip.startswith("127.20.14."))
    squid = Endpoint("127.20.14.10", 8118)
    assert pool.pick(squid) is None
    pool.offer(Endpoint("127.20.99.2", 80), result())  # outside the scope
    pool.offer(Endpoint("127.20.14.3", 80), result(404))  # not a page
    pool.offer(squid, result(400, headers={"Server": "squid/5.7"}))  # a proxy itself
    tls = result()
    tls.sections["ssl"] = {"version": "TLSv1.3"}
    pool.offer(Endpoint("127.20.14.4", 443), tls)  # the canary must be http://
    assert pool.pick(squid) is None
    pool.offer(Endpoint("127.20.14.2", 80), result())
    pool.offer(Endpoint("127.20.14.12", 8081), result())
    assert pool.pick(squid) == "http://127.20.14.2/"
    assert pool.pick(Endpoint("127.20.14.2", 80)) == "http://127.20.14.12:8081/"


def test_wants_canary() -> None:
    assert wants_canary(result(400, headers={"Via": "1.1 squid"}))
    assert not wants_canary(result(400, headers={"Via": "1.1 squid"}, proxy={"canary": "x"}))
    assert not wants_canary(result())


@pytest.fixture
def lab_by_name(request: pytest.FixtureRequest) -> dict[str, Any]:
    try:
        services = request.getfixturevalue("lab")
    except pytest.FixtureLookupError:
        pytest.skip("no `lab` fixture")
    by_name = {s.name: s for s in services if s.running and s.port != 2024}
    if not {"nginx-http", "squid-open"} <= set(by_name):
        pytest.skip("lab nginx / squid-open not running")
    return by_name


async def _scan(tmp_path: Path, targets: list[Any], seed: int) -> dict[int, dict[str, Any]]:
    net = targets[0].ip.rsplit(".", 1)[0] + ".0/24"
    cfg = pipeline.ScanConfig(
        targets=[s.ip for s in targets], allow=[net], ports=",".join(str(s.port) for s in targets),
        exclude_ports="2024", seed=seed, grab_concurrency=1)
    store = open_store(tmp_path / f"scan-{seed}.db")
    try:
        scan, plan = pipeline.start_scan(store, cfg)
        await pipeline.run(store, scan, cfg, plan)
        store.flush()
        return {r["port"]: r for s in targets for r in store.host(s.ip, history=False)
                if r["port"] == s.port}
    finally:
        store.close()


@pytest.mark.lab
async def test_lab_open_proxy_found_without_a_flag(lab_by_name: dict[str, Any],
                                                   tmp_path: Path) -> None:
    squid, nginx = lab_by_name["squid-open"], lab_by_name["nginx-http"]
    # seed 0 reaches the web server first (checked at once); seed 3 the proxy first (its
    # record waits for the end of the scan, then is checked and stored)
    for seed in (0, 3):
        records = await _scan(tmp_path, [squid, nginx], seed)
        proxy = records[squid.port]["http"]["proxy"]
        assert proxy["canary"] == f"http://{nginx.ip}/" and proxy["forwarded"] is True
        assert "open-proxy" in {r["id"] for r in records[squid.port]["risks"]}
    # alone in the scan, the proxy has no canary: nothing else is asked
    alone = await _scan(tmp_path, [squid], 9)
    assert "proxy" not in alone[squid.port]["http"]
