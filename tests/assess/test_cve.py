import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from netatlas.assess.cve import CveDB, parse_cpe, version_in_range
from netatlas.cli.cve import cve as cve_group
from netatlas.store import Store, open_store

DATA = Path(__file__).parent / "data" / "nvd-lab.json"


@pytest.fixture
def db(store: Store) -> CveDB:
    """The lab's feed imported into a store of each backend."""
    cdb = CveDB(store)
    assert cdb.import_nvd(DATA) == 11
    return cdb


def test_parses_real_nvd_schema(db: CveDB) -> None:
    entries = {e.id: e for e in db.store.cve_entries()}
    row = entries["CVE-2023-38408"]
    assert row.cvss == 9.8 and row.severity == "critical"
    assert row.summary.startswith("The PKCS#11 feature")  # the English description
    assert row.published == "2023-07-20T03:15:10.170"
    # CVSS v2 only: the severity sits beside cvssData in V2 entries
    v2 = entries["CVE-2010-4478"]
    assert (v2.cvss, v2.severity) == (7.5, "high")
    # the platform condition (vulnerable: false) is not stored
    assert {r.part for e in entries.values() for r in e.ranges} == {"a"}


def test_lab_versions(db: CveDB) -> None:
    ssh = db.match(["cpe:/a:openbsd:openssh:9.2p1"])
    assert set(ssh) == {"CVE-2023-38408", "CVE-2024-6387", "CVE-2023-51385", "CVE-2099-0001"}
    assert ssh["CVE-2023-38408"] == {
        "cvss": 9.8, "severity": "critical", "verified": False,
        "summary": ssh["CVE-2023-38408"]["summary"],
    }
    # nginx 1.22.1: the fixed version of CVE-2022-41741 (end excluding); the f5 and nginx
    # vendors find each other
    assert set(db.match(["cpe:/a:f5:nginx:1.22.1"])) == {"CVE-2023-44487"}
    assert set(db.match(["cpe:/a:f5:nginx:1.22.0"])) == {"CVE-2023-44487", "CVE-2022-41741"}
    # redis 7.0.15 is the fix of CVE-2023-41056 but still in CVE-2024-31449's range
    assert set(db.match(["cpe:/a:redis:redis:7.0.15"])) == {"CVE-2024-31449"}
    assert set(db.match(["cpe:/a:redis:redis:7.0.14"])) == {"CVE-2024-31449", "CVE-2023-41056"}
    assert set(db.match(["cpe:/a:beasts:vsftpd:3.0.3"])) == {"CVE-2021-30047"}
    assert set(db.match(["cpe:/a:beasts:vsftpd:2.3.4"])) == {"CVE-2011-2523"}


def test_version_edges(db: CveDB) -> None:
    ids = lambda v: set(db.match([f"cpe:/a:openbsd:openssh:{v}"]))  # noqa: E731
    assert "CVE-2023-38408" in ids("9.3p1")
    assert "CVE-2023-38408" not in ids("9.3p2")  # end excluding, p-release order
    assert "CVE-2023-38408" not in ids("9.10p1")  # 9.10 > 9.3 numerically
    assert "CVE-2024-6387" not in ids("8.4p1")  # before start including
    assert "CVE-2024-6387" in ids("8.5p1")  # start including
    assert "CVE-2010-4478" in ids("5.6")  # end including
    assert "CVE-2010-4478" not in ids("5.6p1")
    assert "CVE-2099-0001" in ids("9.2p1") and "CVE-2099-0001" not in ids("9.2")


def test_no_version_no_match(db: CveDB) -> None:
    assert db.match(["cpe:/a:redis:redis"]) == {}
    assert set(db.match(["cpe:/a:redis:redis"], "7.0.15")) == {"CVE-2024-31449"}
    assert db.match(["not a cpe", "cpe:/a:unknown:thing:1.0"]) == {}
    assert db.match(["cpe:2.3:a:beasts:vsftpd:3.0.3:*:*:*:*:*:*:*"]).keys() == {"CVE-2021-30047"}


def test_version_in_range_unparsable_bound() -> None:
    row = {"version": "*", "start_incl": None, "start_excl": None, "end_incl": None,
           "end_excl": "n/a"}
    assert not version_in_range("1.0", row)
    assert not version_in_range("1.0", {**row, "end_excl": None, "version": "-"})
    assert version_in_range("1.0", {**row, "end_excl": None})  # all versions


def test_parse_cpe() -> None:
    c = parse_cpe("cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*")
    assert c is not None and (c.vendor, c.product, c.version) == ("openbsd", "openssh", "9.2p1")
    assert parse_cpe("cpe:/a:f5:nginx") is not None
    assert parse_cpe("cpe:2.3:a:*:*:*") is None and parse_cpe("http://x") is None


def test_gz_and_reimport(tmp_path: Path, store: Store) -> None:
    gz = tmp_path / "feed.json.gz"
    with open(DATA, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    cdb = CveDB(store)
    assert cdb.import_nvd(gz) == 11
    assert cdb.import_nvd(gz) == 11
    assert cdb.count() == 11  # replaced, not duplicated
    assert sum(len(e.ranges) for e in store.cve_entries()) == 15


def test_rejects_other_json(tmp_path: Path, store: Store) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"CVE_Items": []}))  # the retired 1.1 feed
    with pytest.raises(ValueError, match=r"2\.0"):
        CveDB(store).import_nvd(bad)


def test_cli_import(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    runner = CliRunner()
    res = runner.invoke(cve_group, ["import", "--db", str(db), "--json", str(DATA)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.splitlines()[0]) == {"file": str(DATA), "imported": 11}
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = runner.invoke(cve_group, ["import", "--db", str(db), str(bad)])
    assert res.exit_code == 1
    s = open_store(db)
    assert s.cve_count() == 11
    s.close()


def test_match_cache_is_safe(db: CveDB) -> None:
    first = db.match(["cpe:/a:beasts:vsftpd:3.0.3"])
    first["CVE-2021-30047"]["verified"] = True  # the caller owns its copy
    assert db.match(["cpe:/a:beasts:vsftpd:3.0.3"])["CVE-2021-30047"]["verified"] is False
    # any import forgets cached answers: a re-imported CVE without ranges matches nothing
    (entry,) = [e for e in db.store.cve_entries() if e.id == "CVE-2021-30047"]
    db.import_records([{"id": entry.id, "descriptions": []}])
    assert "CVE-2021-30047" not in db.match(["cpe:/a:beasts:vsftpd:3.0.3"])
