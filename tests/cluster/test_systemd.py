"""The shipped systemd units (deploy/systemd) parse, name only variables their example
environment file defines, pass ``systemd-analyze verify``, and their worker command
line works: run as a dry run (``worker --check``) against a real Redis and PostgreSQL."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNITS = ["netatlas-worker@.service", "netatlas-serve.service"]
NETATLAS = str(Path(sys.executable).parent / "netatlas")
_VAR = re.compile(r"\$\{(\w+)\}")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep case
    parser.read_string((DEPLOY / name).read_text())
    return parser


def _env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.mark.parametrize("name", UNITS)
def test_unit_parses(name: str) -> None:
    unit = _unit(name)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["ExecStart"].startswith("/usr/local/bin/netatlas ")
    assert service["User"] == "netatlas"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_worker_unit_names_only_defined_variables() -> None:
    service = _unit("netatlas-worker@.service")["Service"]
    assert service["EnvironmentFile"] == "/etc/netatlas/worker-%i.env"
    env = _env(DEPLOY / "worker.env.example")
    used = set(_VAR.findall(service["ExecStart"] + service["ExecStartPre"]))
    assert used <= set(env)
    assert {"NETATLAS_BROKER", "NETATLAS_DB"} <= set(env)  # read by the worker itself
    assert "worker --check" in service["ExecStartPre"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_units_verify(tmp_path: Path) -> None:
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace("/usr/local/bin/netatlas", NETATLAS)
        path = tmp_path / name.replace("@.", "@1.")
        path.write_text(text)
        proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr


def test_worker_unit_dry_run(redis_url: str, pg_url: str) -> None:
    service = _unit("netatlas-worker@.service")["Service"]
    env = _env(DEPLOY / "worker.env.example")
    env.update(NETATLAS_BROKER=redis_url, NETATLAS_DB=pg_url, WORKER_NAME="w9@test",
               WORKER_ALLOW="127.21.0.0/16", WORKER_SOURCE_IP="127.21.0.9")
    argv = shlex.split(_VAR.sub(lambda m: env[m.group(1)], service["ExecStartPre"]))
    assert argv[0] == "/usr/local/bin/netatlas"
    proc = subprocess.run([NETATLAS, *argv[1:]], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", **env})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["worker"] == "w9@test"
    assert report["source_ip"] == "127.21.0.9" and report["allow"] == ["127.21.0.0/16"]
