"""Against the real lab: grab + identify + assess every service, and compare the findings
with what each service really exposes (precision and recall). Needs the ``lab`` fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netatlas.assess import CveDB, assess
from netatlas.lab.findings import EXPECTED, observe, observe_all, per_check, table, total
from netatlas.store import open_store
from tests.labsvc import running_services

pytestmark = pytest.mark.lab

DATA = Path(__file__).parent / "data" / "nvd-lab.json"


@pytest.fixture
def lab_services(request: pytest.FixtureRequest) -> list[Any]:
    return running_services(request)


async def test_lab_findings_precision_recall(lab_services: list[Any]) -> None:
    """Every check over the whole lab (what bench/checks.py prints): no false finding, no
    missed one."""
    unlisted = sorted(s.name for s in lab_services if s.name not in EXPECTED)
    assert not unlisted, f"lab services without expected findings: {unlisted}"
    observed = await observe_all(lab_services)
    found = {svc.name: {f.id for f in assess(obs)}
             for svc, obs in zip(lab_services, observed, strict=True)}
    rows = []
    for svc, obs in zip(lab_services, observed, strict=True):
        got, want = found[svc.name], EXPECTED[svc.name]
        row = f"{svc.name:12} want={sorted(want)} got={sorted(got)}"
        if got != want:  # what the grab saw, so a CI failure can be read, not guessed
            row += f"  <- service={obs.service} status={obs.status} error={obs.error}"
        rows.append(row)
    print("\n".join(rows))
    assert rows, "no lab service ran"
    scores = per_check(found)
    print(table(scores, len(lab_services)))
    t = total(scores)
    assert t.fp == 0 and t.fn == 0, "\n".join(rows)
    assert t.tp == sum(len(EXPECTED[s.name]) for s in lab_services)


async def test_lab_vsftpd_anonymous_and_redis_auth(lab_services: list[Any]) -> None:
    by_name = {s.name: s for s in lab_services}
    if not {"ftp", "redis", "redis-auth"} <= set(by_name):
        pytest.skip("lab ftp/redis not running")
    ftp = await observe(by_name["ftp"])
    assert ftp.sections["ftp"]["anonymous"] is True
    open_redis = await observe(by_name["redis"])
    closed_redis = await observe(by_name["redis-auth"])
    assert "redis-no-auth" in {f.id for f in assess(open_redis)}
    assert closed_redis.sections["redis"]["auth_required"] is True
    assert assess(closed_redis) == []


async def test_lab_cves(lab_services: list[Any], tmp_path: Path) -> None:
    by_name = {s.name: s for s in lab_services}
    store = open_store(tmp_path / "cve.db")
    db = CveDB(store)
    db.import_nvd(DATA)
    got: dict[str, set[str]] = {}
    for name in ("ssh", "nginx-http", "redis", "ftp"):
        if name in by_name:
            o = await observe(by_name[name])
            got[name] = set(db.match(o.cpe, o.version))
    store.close()
    print(got)
    # The lab's Debian 12 versions: OpenSSH 9.2p1, nginx 1.22.1, Redis 7.0.15, vsftpd 3.0.3.
    want = {
        "ssh": {"CVE-2023-38408", "CVE-2024-6387", "CVE-2023-51385", "CVE-2099-0001"},
        "nginx-http": {"CVE-2023-44487"},  # 1.22.1 is the fix of CVE-2022-41741
        "redis": {"CVE-2024-31449"},  # 7.0.15 is the fix of CVE-2023-41056
        "ftp": {"CVE-2021-30047"},
    }
    assert got == {k: v for k, v in want.items() if k in got}
