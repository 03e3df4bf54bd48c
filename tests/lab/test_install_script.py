"""scripts/install-system-deps.sh: valid bash, and a no-op (apt never run) once every
package is installed — which setup.sh has ensured before the tests run."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-system-deps.sh"


def test_syntax() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_lists_every_lab_package() -> None:
    text = SCRIPT.read_text()
    for pkg in ("nginx-light", "openssh-server", "openssh-client", "redis-server", "vsftpd",
                "postgresql", "memcached", "exim4-daemon-light", "nmap", "openssl",
                "apache2", "lighttpd", "dovecot-pop3d", "dovecot-imapd", "mariadb-server",
                "mosquitto", "haproxy", "squid", "etcd-server", "prometheus", "dnsmasq-base",
                "nats-server", "zookeeper", "erlang-base"):
        assert f"\n  {pkg}" in text, pkg
    assert "BROWSER_PACKAGES=(" in text


def test_second_run_does_not_touch_apt(tmp_path: Path) -> None:
    marker = tmp_path / "apt-was-called"
    for tool in ("apt-get", "apt"):
        fake = tmp_path / tool
        fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert time.monotonic() - t0 < 10
