"""Warnings repeated during a scan are said once, at the end, with their count
(issue 15 #12: 51 lines of "nmap-service-probes line 3182: pattern timed out")."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netatlas import pipeline
from netatlas.cli.main import cli
from netatlas.model import Scan

MSG = "nmap-service-probes line %d: pattern timed out"


def test_repeated_pattern_warnings_are_said_once(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    async def noisy_run(store: Any, scan: Scan, *args: Any, **kwargs: Any) -> Scan:
        log = logging.getLogger("netatlas.identify.nmap_probes")
        for _ in range(51):
            log.warning(MSG, 3182)
        for _ in range(3):
            log.warning(MSG, 77)
        scan.status = "finished"
        return scan

    monkeypatch.setattr(pipeline, "run", noisy_run)
    result = CliRunner().invoke(cli, ["scan", "127.20.41.1", "--allow", "127.20.41.0/24",
                                      "-p", "1", "--exclude-ports", "2024",
                                      "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    said = [x for x in lines if "line 3182: pattern timed out" in x]
    assert len(said) == 1 and "51 times" in said[0]
    assert next(x for x in lines if "line 77:" in x).count("3 times") == 1
    # at the end: after the scan's closing line
    closing = next(i for i, x in enumerate(lines) if "finished" in x)
    assert lines.index(said[0]) > closing


def test_the_logger_is_restored_after_the_scan(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("netatlas.identify")
    before = (list(logger.handlers), logger.propagate)

    async def quiet_run(store: Any, scan: Scan, *args: Any, **kwargs: Any) -> Scan:
        scan.status = "finished"
        return scan

    monkeypatch.setattr(pipeline, "run", quiet_run)
    result = CliRunner().invoke(cli, ["scan", "127.20.41.1", "--allow", "127.20.41.0/24",
                                      "-p", "1", "--exclude-ports", "2024",
                                      "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert (list(logger.handlers), logger.propagate) == before
