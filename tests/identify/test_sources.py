"""list_sources: what ``netatlas fingerprints`` will show."""

from __future__ import annotations

from pathlib import Path

import pytest

from netatlas.identify import list_sources, load_rules
from netatlas.identify.nmap_probes import DEFAULT_PATH


def test_packaged_files_listed_with_counts() -> None:
    rows = list_sources(nmap_path=None)
    files = load_rules()
    assert [(n, p, c) for n, p, c in rows] == [
        (f"netatlas:{rf.name}", str(rf.path), len(rf.rules)) for rf in files
    ]
    assert all(c > 0 for _, _, c in rows)


@pytest.mark.skipif(not DEFAULT_PATH.is_file(), reason="nmap-service-probes not installed")
def test_nmap_listed_when_installed() -> None:
    name, path, count = list_sources()[-1]
    assert (name, path) == ("nmap-service-probes", str(DEFAULT_PATH))
    assert count > 10_000


def test_missing_nmap_not_listed(tmp_path: Path) -> None:
    rows = list_sources(nmap_path=tmp_path / "absent")
    assert not any(n == "nmap-service-probes" for n, _, _ in rows)
