"""Versions come from the installed binaries: check them against dpkg, a second and
independent source, and check that nothing is hard-coded by reading a fake binary."""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from netatlas.lab import Lab
from netatlas.lab import daemon as lab_daemon
from netatlas.lab.daemon import BINARIES, PYPI_KINDS
from netatlas.lab.versions import _sshd_version, binary_version


def _owning_package_version(binary: str, kind: str) -> str:
    real = str(Path(binary).resolve())
    if Path(real).is_relative_to(lab_daemon.UNPACKED):
        # unpacked by install-system-deps.sh (dpkg knows nothing of it): the package it
        # downloaded, named after the kind (chrony), at apt's candidate version
        assert (lab_daemon.UNPACKED / ".netatlas-unpacked" / kind).exists(), real
        shown = subprocess.run(["apt-cache", "show", "--no-all-versions", kind],
                               capture_output=True, text=True, check=True).stdout
        found = re.search(r"^Version: (\S+)", shown, re.MULTILINE)
        assert found, shown
        full = found.group(1)
    else:
        owner = subprocess.run(["dpkg-query", "-S", real], capture_output=True, text=True,
                               check=True).stdout.split(":")[0].strip()
        full = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", owner],
                              capture_output=True, text=True, check=True).stdout
    upstream = re.sub(r"^\d+:", "", full)  # epoch
    upstream = re.sub(r"-[^-]*$", "", upstream)  # Debian revision
    upstream = re.sub(r"~rc\d+$", "", upstream)  # a pre-release (influxdb 1.6.7~rc0)
    return re.sub(r"\+(dfsg|ds)\d*$", "", upstream)  # Debian repack of the upstream tarball


@pytest.mark.parametrize("kind", sorted(set(BINARIES) - PYPI_KINDS))
def test_version_matches_debian_package(kind: str) -> None:
    version = binary_version(kind)
    assert version, f"no version read from {BINARIES[kind]}"
    assert version == _owning_package_version(BINARIES[kind], kind)


def test_pypi_version_matches_distribution() -> None:
    assert binary_version("jupyter") == metadata.version("jupyter_server")


def test_ground_truth_carries_versions() -> None:
    truth = Lab().ground_truth()
    assert {s.name for s in truth} >= {"nginx-http", "ssh", "redis", "ftp", "postgresql",
                                       "memcached", "smtp"}
    for s in truth:
        assert s.version and re.fullmatch(r"\d+(\.\d+)+(p\d+)?", s.version), s


def test_sshd_version_is_read_from_the_binary(tmp_path: Path) -> None:
    fake = tmp_path / "sshd"
    fake.write_bytes(b"\x7fELF junk\x00OpenSSH_1.2p3\x00more")
    assert _sshd_version(str(fake)) == "1.2p3"


def test_app_versions_come_from_their_own_environments() -> None:
    """Spark and Airflow live in virtualenvs of their own (scripts/install-lab-apps.sh):
    the version read from the environment's metadata is what the software itself says."""
    airflow = subprocess.run([BINARIES["airflow"], "version"], capture_output=True,
                             text=True, timeout=120, check=True,
                             env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}).stdout
    assert binary_version("airflow") == airflow.strip().splitlines()[-1]
    python = Path(BINARIES["airflow"]).parents[2] / "spark" / "bin" / "python"
    spark = subprocess.run([str(python), "-c", "import pyspark; print(pyspark.__version__)"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert binary_version("spark") == spark.strip()
