"""Which fingerprint sources identify would use, for ``netatlas fingerprints``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from netatlas.identify.nmap_probes import DEFAULT_PATH
from netatlas.identify.recog import RecogDB, recog_dirs
from netatlas.identify.rules import load_rules
from netatlas.identify.wappalyzer import webapp_dirs


def _count_nmap(path: Path) -> int:
    # Counting lines is enough for a listing; no need to parse the 2.5 MB file.
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith((b"match ", b"softmatch ")):
                n += 1
    return n


def _count_technologies(folder: Path) -> int:
    n = 0
    for path in (folder / "technologies").glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        n += len(data) if isinstance(data, dict) else 0
    return n


def list_sources(rule_paths: list[Path] | None = None,
                 nmap_path: Path | None = DEFAULT_PATH,
                 fingerprints: Iterable[str | Path] | None = None,
                 ) -> list[tuple[str, str, int]]:
    """``(name, path, rule_count)`` per source: each packaged rule file as
    ``netatlas:<file>``, then ``nmap-service-probes`` when it is installed, then
    ``recog`` (fingerprints) and ``wappalyzer`` (technologies) for each folder found
    in ``fingerprints`` (default: ``$NETATLAS_FINGERPRINTS``)."""
    out = [(f"netatlas:{rf.name}", str(rf.path), len(rf.rules))
           for rf in load_rules(rule_paths)]
    if nmap_path is not None and Path(nmap_path).is_file():
        out.append(("nmap-service-probes", str(nmap_path), _count_nmap(Path(nmap_path))))
    paths = list(fingerprints) if fingerprints is not None else None
    for d in recog_dirs(paths):
        db = RecogDB.load([d])
        if db.files:
            out.append(("recog", str(d), db.rule_count))
    for d in webapp_dirs(paths):
        out.append(("wappalyzer", str(d), _count_technologies(d)))
    return out
