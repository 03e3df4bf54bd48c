"""Which fingerprint sources identify would use, for ``netatlas fingerprints``."""

from __future__ import annotations

from pathlib import Path

from netatlas.identify.nmap_probes import DEFAULT_PATH
from netatlas.identify.rules import load_rules


def _count_nmap(path: Path) -> int:
    # Counting lines is enough for a listing; no need to parse the 2.5 MB file.
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith((b"match ", b"softmatch ")):
                n += 1
    return n


def list_sources(rule_paths: list[Path] | None = None,
                 nmap_path: Path | None = DEFAULT_PATH) -> list[tuple[str, str, int]]:
    """``(name, path, rule_count)`` per source: each packaged rule file as
    ``netatlas:<file>``, then ``nmap-service-probes`` when it is installed."""
    out = [(f"netatlas:{rf.name}", str(rf.path), len(rf.rules))
           for rf in load_rules(rule_paths)]
    if nmap_path is not None and Path(nmap_path).is_file():
        out.append(("nmap-service-probes", str(nmap_path), _count_nmap(Path(nmap_path))))
    return out
