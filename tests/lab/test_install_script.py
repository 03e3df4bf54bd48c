"""scripts/install-system-deps.sh: valid bash, a no-op (apt never run) once every
package is installed — which setup.sh has ensured before the tests run — and it never
removes a package the machine has (issue 15 #10: demo.sh removed postfix, proftpd-core
and systemd-timesyncd without a word)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netatlas.lab import Lab
from netatlas.lab import daemon as lab_daemon

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-system-deps.sh"


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
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # a hang guard
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()  # quick because apt is not asked at all


def _installed(pkg: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg],
                         capture_output=True, text=True, check=False).stdout
    return out == "installed"


def test_a_package_that_would_remove_another_is_left_out() -> None:
    """apt's own simulation (nothing installed, nothing removed): postfix would take
    the lab's exim4 away, so it is left out with one line; hello is installed, with
    --no-remove."""
    if shutil.which("apt-get") is None or not _installed("exim4-daemon-light"):
        pytest.skip("needs apt and the lab's exim4-daemon-light")
    if _installed("postfix") or _installed("hello"):
        pytest.skip("postfix or hello is installed here")
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run", "postfix", "hello"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    (skip,) = [line for line in lines if "not installing" in line]
    assert skip.startswith("install-system-deps: not installing postfix: apt would remove ")
    assert "exim4-daemon-light" in skip
    (plan,) = [line for line in lines if "would run:" in line]
    assert " --no-remove " in plan
    assert plan.split()[-1] == "hello" and "postfix" not in plan
    assert _installed("exim4-daemon-light") and not _installed("hello")  # a dry run


SCRIPTS = [*sorted((ROOT / "scripts").glob("*.sh")), ROOT / ".ci" / "run"]
REMOVING = re.compile(r"\b(apt-get|apt|aptitude)([ \t]+-\S+)*[ \t]+(remove|purge|autoremove)\b"
                      r"|\bdpkg([ \t]+\S+)*?[ \t]+(-r|-P|--remove|--purge)\b")


def _code(script: Path) -> str:
    """The script without its comments (a comment may say "remove")."""
    return "\n".join(line.split(" #")[0] for line in script.read_text().splitlines()
                     if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_script_removes_packages(script: Path) -> None:
    """No removal command, and every install goes through apt with --no-remove (so apt
    refuses instead of removing a conflicting package the check did not foresee)."""
    code = _code(script)
    assert not REMOVING.search(code), REMOVING.search(code)
    for line in re.findall(r"(?:apt-get|apt)[ \t]+install\b[^\n]*", code):
        assert " -s " in line or "--no-remove" in line, line

def test_lab_up_installed_leaves_out_what_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """`netatlas lab up --installed` starts what is installed and names the rest."""
    monkeypatch.setitem(lab_daemon.BINARIES, "chrony", str(tmp_path / "no-chronyd"))
    missing = Lab().not_installed()
    assert "chrony" in {d.name for d in missing}
    assert all(not Path(d.binary).exists() for d in missing)


def test_unpack_runs_a_package_without_installing_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The other way for a package that would remove one the machine has (chrony beside
    systemd-timesyncd): its .deb unpacked under a root of its own, dpkg none the wiser,
    and the lab finds the binary there. Shown with Debian's hello."""
    if shutil.which("apt-get") is None or os.geteuid() != 0 or _installed("hello"):
        pytest.skip("needs root, apt and a machine without hello")
    env = {**os.environ, "NETATLAS_LAB_UNPACKED": str(tmp_path)}
    proc = subprocess.run(["bash", str(SCRIPT), "--unpack", "hello"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"hello unpacked into {tmp_path}" in proc.stderr
    assert not _installed("hello")  # nothing registered with dpkg
    monkeypatch.setattr(lab_daemon, "UNPACKED", tmp_path)
    path = lab_daemon.unpacked_or_installed("/usr/bin/hello")
    assert path == str(tmp_path / "usr/bin/hello")
    out = subprocess.run([path], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout == "Hello, world!\n"
    assert lab_daemon.unpacked_or_installed("/bin/sh") == "/bin/sh"  # installed wins


def test_a_conflicting_package_is_unpacked_by_the_install_run(tmp_path: Path) -> None:
    """The install run itself unpacks chrony (beside systemd-timesyncd) into the unpacked
    root: before, the check against fresh package lists started from the list the first
    check had already emptied of chrony, and nothing was unpacked, ever (a fresh machine's
    lab then lacked chronyd)."""
    if (shutil.which("apt-get") is None or os.geteuid() != 0 or _installed("chrony")
            or not _installed("systemd-timesyncd")):
        pytest.skip("needs root, apt, and systemd-timesyncd without chrony")
    env = {**os.environ, "NETATLAS_LAB_UNPACKED": str(tmp_path)}
    proc = subprocess.run(["bash", str(SCRIPT), "chrony"], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "usr/sbin/chronyd").is_file(), proc.stderr
    assert (tmp_path / ".netatlas-unpacked" / "chrony").exists()
    assert not _installed("chrony") and _installed("systemd-timesyncd")
