"""``netatlas cve import`` streams the feed (issue 15 #11: a 200 MB feed took the process
to 450 MB, the whole document parsed at once), and a bad feed is refused whole: a file
is imported entirely or not at all, whatever came before the break."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from netatlas.assess.cve import CveDB
from netatlas.cli.cve import cve as cve_group
from netatlas.store import Store, open_store
from tests.assess.nvdfeed import PRODUCTS, record, write_feed

DATA = Path(__file__).parent / "data" / "nvd-lab.json"
NETATLAS = Path(sys.executable).with_name("netatlas")
BIG = 60_000  # CVEs: 80 MB of JSON; the whole-document parser took the process to ~420 MB
# Anonymous memory (the heap, not the store file's mapped pages): the interpreter and
# netatlas are ~35 MB, the writer's page cache during the import 16 MB, ijson's one
# record at a time next to nothing.
ANON_LIMIT_KB = 120 * 1024


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _run_measured(args: list[str]) -> tuple[subprocess.CompletedProcess[str], int, int]:
    """Run the real CLI; poll its memory until it exits (killed early past the limit, so
    a regression fails in seconds). Returns (result, peak RssAnon KB, last VmHWM KB)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_anon = hwm = 0
    deadline = time.monotonic() + 120  # a hang guard, not a speed limit
    while proc.poll() is None:
        st = _status(proc.pid)
        peak_anon = max(peak_anon, st.get("RssAnon", 0))
        hwm = max(hwm, st.get("VmHWM", 0))
        if peak_anon > ANON_LIMIT_KB or time.monotonic() > deadline:
            proc.kill()
            break
        time.sleep(0.01)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(args, proc.returncode, out, err), peak_anon, hwm


@pytest.mark.parametrize("gz", [False, True], ids=["json", "json.gz"])
def test_import_streams_a_large_feed(tmp_path: Path, gz: bool) -> None:
    feed = write_feed(tmp_path / ("feed.json.gz" if gz else "feed.json"), BIG, gz=gz)
    db = tmp_path / "cve.db"
    res, peak_anon, hwm = _run_measured(
        [str(NETATLAS), "cve", "import", "--db", str(db), "--json", str(feed)])
    assert peak_anon <= ANON_LIMIT_KB, (
        f"cve import held {peak_anon // 1024} MB of heap for a {BIG}-CVE feed")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"file": str(feed), "imported": BIG}
    print(f"{BIG} CVEs ({feed.stat().st_size >> 20} MB on disk):"
          f" peak RssAnon {peak_anon // 1024} MB, VmHWM {hwm // 1024} MB")
    s = open_store(db)
    try:
        cdb = CveDB(s)
        assert cdb.count() == BIG
        # synthprod0 is named by every record with i % PRODUCTS == 0, affected from 1.0
        # up to 2.(i % 10) excluded, i.e. 2.0 for all of them
        hits = cdb.match(["cpe:/a:synth:synthprod0:1.5"])
        assert set(hits) == {f"CVE-2099-{i:06d}" for i in range(0, BIG, PRODUCTS)}
        assert hits["CVE-2099-000500"]["cvss"] == record(500)["cve"][  # type: ignore[index]
            "metrics"]["cvssMetricV31"][0]["cvssData"]["baseScore"]
        assert cdb.match(["cpe:/a:synth:synthprod0:2.0"]) == {}
        assert cdb.match(["cpe:/o:synth:os:1.0"]) == {}  # vulnerable: false is not kept
    finally:
        s.close()


def _truncated(tmp_path: Path, gz: bool) -> Path:
    """A feed cut inside record 30 (.json), or a gzip stream cut half-way (.json.gz)."""
    if not gz:
        whole = write_feed(tmp_path / "whole.json", 50).read_bytes()
        (tmp_path / "cut.json").write_bytes(whole[: whole.index(b'"CVE-2099-000030"') + 40])
        return tmp_path / "cut.json"
    whole = write_feed(tmp_path / "whole.json.gz", 2000, gz=True).read_bytes()
    (tmp_path / "cut.json.gz").write_bytes(whole[: len(whole) // 2])
    return tmp_path / "cut.json.gz"


@pytest.mark.parametrize("gz", [False, True], ids=["json", "json.gz"])
def test_truncated_feed_imports_nothing(tmp_path: Path, store: Store, gz: bool) -> None:
    cdb = CveDB(store)
    assert cdb.import_nvd(DATA) == 11
    before = sorted((e.id, len(e.ranges)) for e in store.cve_entries())
    with pytest.raises(ValueError, match=r"invalid or truncated JSON after \d+ CVE records"
                                         r" \(the last CVE-2099-\d{6}\)") as exc:
        cdb.import_nvd(_truncated(tmp_path, gz))
    assert "\n" not in str(exc.value)
    # the records before the break are not kept: the store is as it was
    assert sorted((e.id, len(e.ranges)) for e in store.cve_entries()) == before
    assert cdb.count() == 11


@pytest.mark.parametrize("doc, message", [
    ([], "no 'vulnerabilities' array"),
    ({"vulnerabilities": {"cve": {"id": "CVE-1"}}}, "no 'vulnerabilities' array"),
    ({"CVE_Items": [{"cve": {"id": "CVE-1"}}]}, r"not an NVD CVE JSON 2\.0 file"),
    ({"vulnerabilities": [{"cve": {"id": "CVE-2099-1"}}, 7]},
     r"vulnerabilities\[1\] is not a CVE record"),
    ({"vulnerabilities": [{"cve": {"id": 12}}]}, r"vulnerabilities\[0\] is not a CVE record"),
    ({"vulnerabilities": [{"id": "CVE-2099-1"}]}, r"vulnerabilities\[0\] is not a CVE record"),
])
def test_wrong_shape_is_refused_whole(tmp_path: Path, store: Store, doc: object,
                                      message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        CveDB(store).import_nvd(bad)
    assert store.cve_count() == 0


def test_empty_feed_is_fine(tmp_path: Path, store: Store) -> None:
    empty = write_feed(tmp_path / "empty.json", 0)
    assert CveDB(store).import_nvd(empty) == 0


def test_trailing_garbage_and_bad_utf8(tmp_path: Path, store: Store) -> None:
    feed = write_feed(tmp_path / "f.json", 3).read_bytes()
    (tmp_path / "tail.json").write_bytes(feed + b"{}")
    (tmp_path / "utf8.json").write_bytes(feed.replace(b"synthetic", b"synth\xff\xfeic", 1))
    for name in ("tail.json", "utf8.json"):
        with pytest.raises(ValueError, match="invalid or truncated JSON"):
            CveDB(store).import_nvd(tmp_path / name)
    assert store.cve_count() == 0


def test_cli_keeps_the_good_files_and_says_which_failed(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    cut = _truncated(tmp_path, gz=False)
    good = write_feed(tmp_path / "good.json.gz", 5, gz=True)
    res = CliRunner().invoke(cve_group, ["import", "--db", str(db), str(DATA), str(cut),
                                         str(good)])
    assert res.exit_code == 1
    lines = res.output.splitlines()
    assert lines[0] == f"{DATA}: 11 CVEs imported"
    assert lines[1].startswith(f"{cut}: invalid or truncated JSON after 30 CVE records")
    assert lines[2] == f"{good}: 5 CVEs imported"
    assert lines[3] == f"16 CVEs in {db}"
    s = open_store(db)
    assert s.cve_count() == 16  # both good files whole, nothing of the cut one
    s.close()

