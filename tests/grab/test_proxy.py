"""The open-proxy check: the canary's parsing and scope, the proxy gate, and the real
lab Squids (one denies everything, one forwards to the lab's /24)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.proxy import Canary, CanaryError, looks_like_proxy
from netatlas.model import Endpoint
from netatlas.pipeline import ScanConfig, plan_scan
from netatlas.scope import ScopeError


def test_canary_parse() -> None:
    c = Canary.parse("http://127.20.0.2:8081/index.html?x=1")
    assert (c.host, c.port, c.netloc, c.path) == ("127.20.0.2", 8081, "127.20.0.2:8081",
                                                  "/index.html?x=1")
    assert Canary.parse("http://127.20.0.2").netloc == "127.20.0.2"
    for bad in ("https://127.20.0.2/", "127.20.0.2", "http:///x", "http://127.20.0.2:99999/"):
        with pytest.raises(CanaryError):
            Canary.parse(bad)


@pytest.mark.parametrize(("http", "want"), [
    ({"status": 400, "headers": {"Server": "squid/5.7", "X-Squid-Error": "ERR_INVALID_URL 0"}},
     True),
    ({"status": 407, "headers": {}}, True),
    ({"status": 200, "headers": {"Via": "1.1 tinyproxy (tinyproxy/1.11.1)"}}, True),
    ({"status": 200, "headers": {"Server": "nginx/1.22.1"}}, False),
    ({"status": 200}, False),
])
def test_looks_like_proxy(http: dict[str, Any], want: bool) -> None:
    assert looks_like_proxy(http) is want


def test_canary_outside_scope_refuses_the_scan() -> None:
    cfg = ScanConfig(targets=["127.20.0.22"], allow=["127.20.0.0/24"], ports="3128",
                     proxy_canary="http://127.30.0.1/")
    with pytest.raises(ScopeError, match="outside the allow list"):
        plan_scan(cfg)
    cfg.proxy_canary = "http://lab.example/"
    with pytest.raises(ScopeError, match="IP address inside the scope"):
        plan_scan(cfg)


def test_cli_refuses_an_out_of_scope_canary(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netatlas.cli.main", "scan", "127.20.0.22", "-p", "3128",
         "--allow", "127.20.0.0/24", "--exclude-ports", "2024",
         "--proxy-canary", "http://127.30.0.1/", "--db", str(tmp_path / "x.db")],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "proxy canary" in proc.stderr


@pytest.fixture
def lab_by_name(request: pytest.FixtureRequest) -> dict[str, Any]:
    try:
        services = request.getfixturevalue("lab")
    except pytest.FixtureLookupError:
        pytest.skip("no `lab` fixture")
    by_name = {s.name: s for s in services if s.running and s.port != 2024}
    if not {"nginx-http", "squid", "squid-open", "nginx-alt"} <= set(by_name):
        pytest.skip("lab nginx / squids not running")
    return by_name


@pytest.mark.lab
async def test_lab_squids(lab_by_name: dict[str, Any]) -> None:
    canary = lab_by_name["nginx-http"]
    net = canary.ip.rsplit(".", 1)[0] + "."
    opts = GrabOptions(proxy_canary=f"http://{canary.ip}/", in_scope=lambda h: h.startswith(net))

    async def proxy_record(name: str) -> Any:
        svc = lab_by_name[name]
        res = await grab_endpoint(Endpoint(svc.ip, svc.port), opts)
        assert res.status == "success", res.error
        return res.sections["http"].get("proxy")

    closed = await proxy_record("squid")
    assert closed["forwarded"] is False and closed["status"] == 403
    opened = await proxy_record("squid-open")
    assert opened["forwarded"] is True and opened["status"] == 200
    assert opened["server"].startswith("nginx/")  # the canary's own page came back
    # a plain web server is never asked (and would serve its own page if it were)
    assert await proxy_record("nginx-alt") is None


@pytest.mark.lab
async def test_out_of_scope_canary_is_never_contacted(lab_by_name: dict[str, Any]) -> None:
    svc = lab_by_name["squid-open"]
    opts = GrabOptions(proxy_canary="http://127.30.0.1/", in_scope=lambda h: False)
    res = await grab_endpoint(Endpoint(svc.ip, svc.port), opts)
    assert res.sections["http"]["proxy"] == {"canary": "http://127.30.0.1/",
                                             "error": "canary outside the scan's scope"}
