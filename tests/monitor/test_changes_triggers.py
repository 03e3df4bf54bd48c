"""Change detection and triggers over records (no network)."""

from __future__ import annotations

from typing import Any

from netatlas.monitor.changes import diff, facts
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
