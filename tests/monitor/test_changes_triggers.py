"""Change detection and triggers over records (no network)."""

from __future__ import annotations

from typing import Any

from netatlas.monitor.changes import diff, facts, observed
from netatlas.monitor.triggers import check_trigger, fires

NOW = 2_000_000_000.0


def _rec(port: int, **extra: Any) -> dict[str, Any]:
    return {"ip_str": "127.20.12.40", "port": port, "transport": "tcp", **extra}


def test_diff_kinds() -> None:
    redis = _rec(6379, service="redis", product="Redis", version="7.0.11",
                 risks=[{"id": "redis-no-auth", "severity": "high"}],
                 vulns={"CVE-2023-1": {"verified": False, "cvss": 7.5}})
    before = {"a|6379|tcp": facts(redis), "a|22|tcp": facts(_rec(22, service="ssh"))}
    newer = dict(redis, version="7.2.4", risks=[], vulns={"CVE-2024-9": {"verified": False}})
    after = {"a|6379|tcp": facts(newer), "a|80|tcp": facts(_rec(80, service="http"))}
    kinds = sorted(c.kind for c in diff(before, after, NOW))
    assert kinds == ["appeared", "disappeared", "finding_gone", "version_changed",
                     "vuln_appeared", "vuln_gone"]
    assert diff(after, after, NOW) == []


def test_grab_refused_after_discovery_is_gone() -> None:
    """Discovery saw the port open, the grab was refused: the service disappeared (not
    a product and a version changed to nothing); a grab that timed out connecting says
    nothing, so that endpoint keeps its last facts and gives no event."""
    nginx = _rec(80, service="http", product="nginx", version="1.22.1")
    ssh = _rec(22, service="ssh", product="OpenSSH", version="9.2p1")
    before = {"a|80|tcp": facts(nginx), "a|22|tcp": facts(ssh)}
    after, unknown = observed({
        "a|80|tcp": _rec(80, status="connection-refused"),
        "a|22|tcp": _rec(22, status="connection-timeout"),
        "a|443|tcp": _rec(443, status="connection-refused"),  # never seen: no event
    })
    assert after == {} and unknown == {"a|22|tcp"}
    seen = {k: f for k, f in before.items() if k not in unknown}
    assert [(c.kind, c.key) for c in diff(seen, after, NOW)] == [("disappeared", "a|80|tcp")]
    listening, none = observed({"a|80|tcp": dict(nginx, status="success"),
                                "a|22|tcp": dict(ssh, status="io-timeout")})
    assert set(listening) == {"a|80|tcp", "a|22|tcp"} and none == set()


def test_triggers() -> None:
    ai = _rec(8888, service="http", tags=["ai"],
              risks=[{"id": "jupyter-no-token", "severity": "critical"}])
    [appeared] = diff({}, {"a|8888|tcp": facts(ai)}, NOW)
    for name in ("new_service", "ai_exposed", "risk:high", "risk:critical"):
        assert fires(check_trigger(name), appeared, ai, {}), name
    for name in ("open_database", "iot", "industrial_control_system", "vulnerable"):
        assert not fires(name, appeared, ai, {}), name
    assert fires("query:port:8888", appeared, ai, {"query:port:8888": {"a|8888|tcp"}})
    assert not fires("query:port:22", appeared, ai, {"query:port:22": set()})
    http_on_ssh = _rec(22, service="http")
    [odd] = diff({}, {"a|22|tcp": facts(http_on_ssh)}, NOW)
    assert fires("uncommon", odd, http_on_ssh, {})
