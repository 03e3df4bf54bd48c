"""Real servers the sharing tests start on loopback and stop by PID: Debian's rsync
daemon, Xvfb, slapd (lab/directory.py's config) and rpcbind (in a network namespace of
its own: it binds port 111 on the wildcard address, which must not reach the host's
network or disturb its /run)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RSYNC = "/usr/bin/rsync"
XVFB = "/usr/bin/Xvfb"
RPCBIND = "/usr/sbin/rpcbind"
SLAPD = "/usr/sbin/slapd"


def need(binary: str, package: str) -> None:
    if not os.path.exists(binary):
        pytest.skip(f"{package} (a lab package) is not installed: "
                    "scripts/install-system-deps.sh")


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        port = int(s.getsockname()[1])
    assert port != 2024
    return port


def wait_listening(proc: subprocess.Popen[bytes], ip: str, port: int, what: str,
                   timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((ip, port), 0.2):
            return
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{what} did not listen on {ip}:{port}"
        time.sleep(0.05)


@contextlib.contextmanager
def running(argv: list[str], ip: str, port: int, what: str,
            **kw: object) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv``, wait until ip:port accepts, stop it by its PID afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            **kw)  # type: ignore[call-overload]
    try:
        wait_listening(proc, ip, port, what)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


RSYNCD_CONF = """# netatlas test rsync daemon: one open module, one behind auth users, one unlisted
use chroot = no
motd file = {d}/motd
pid file = {d}/rsyncd.pid
[pub]
  path = {d}/pub
  comment = public files
  read only = yes
[priv]
  path = {d}/priv
  comment = private area
  auth users = alice
  secrets file = {d}/secrets
[hidden]
  path = {d}/pub
  list = no
"""


@contextlib.contextmanager
def rsync_daemon(d: Path, ip: str, listed: bool = True) -> Iterator[int]:
    """``rsync --daemon --no-detach`` on ip and a free port (not 873)."""
    need(RSYNC, "rsync")
    for sub in ("pub", "priv"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "pub" / "readme.txt").write_text("hello\n")
    (d / "motd").write_text("Welcome to the netatlas test rsync\n")
    secrets = d / "secrets"
    secrets.write_text("alice:not-a-real-password\n")
    secrets.chmod(0o600)
    conf = RSYNCD_CONF.format(d=d)
    if not listed:  # every module unlisted: the list is empty
        conf = conf.replace("read only = yes", "read only = yes\n  list = no").replace(
            "auth users = alice", "auth users = alice\n  list = no")
    (d / "rsyncd.conf").write_text(conf)
    port = free_port(ip)
    with running([RSYNC, "--daemon", "--no-detach", f"--config={d / 'rsyncd.conf'}",
                  f"--address={ip}", f"--port={port}", f"--log-file={d / 'log'}"],
                 ip, port, "rsync --daemon"):
        yield port


def _free_display(ip: str) -> int:
    """An X display whose TCP port (6000 + N) is free; N within 0-63, X11's own ports."""
    for n in range(63, 9, -1):
        port = 6000 + n
        if Path(f"/tmp/.X{n}-lock").exists():
            continue
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))  # Xvfb binds the wildcard address
            except OSError:
                continue
        return n
    pytest.skip("no free X display between :10 and :63")


def write_xauthority(path: Path, display: int) -> None:
    """One MIT-MAGIC-COOKIE-1 entry in the Xauthority file format (FamilyLocal); the
    server then refuses a client that brings no cookie."""
    def field(b: bytes) -> bytes:
        return struct.pack(">H", len(b)) + b
    path.write_bytes(struct.pack(">H", 256) + field(b"netatlas") + field(str(display).encode())
                     + field(b"MIT-MAGIC-COOKIE-1") + field(os.urandom(16)))
    path.chmod(0o600)


@contextlib.contextmanager
def xvfb(d: Path, ip: str, open_access: bool) -> Iterator[int]:
    """Xvfb listening on TCP 6000+N (the wildcard address; we connect to ``ip`` only):
    ``-ac`` lets anyone in; otherwise ``-auth`` with a cookie nobody has. Without -auth
    Xvfb lets local clients in whatever -ac says (its own addresses are in its host
    list), so the refused case needs the cookie file."""
    need(XVFB, "xvfb")
    n = _free_display(ip)
    argv = [XVFB, f":{n}", "-listen", "tcp", "-nolisten", "unix", "-screen", "0",
            "640x480x24"]
    if open_access:
        argv.append("-ac")
    else:
        auth = d / f"xauth{n}"
        write_xauthority(auth, n)
        argv += ["-auth", str(auth)]
    with running(argv, ip, 6000 + n, "Xvfb"):
        yield 6000 + n


@contextlib.contextmanager
def slapd(d: Path, ip: str, anonymous_read: bool) -> Iterator[int]:
    """Debian's slapd with the lab's config and entries; ``anonymous_read`` False: the
    root DSE only to anonymous clients (ACL), entries to bound users."""
    from netatlas.lab.directory import ANONYMOUS_ROOTDSE_ONLY, slapd_argv
    need(SLAPD, "slapd")
    port = 389  # LDAP's own port on this address when free: detection goes by it
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as slapd binds
        try:
            s.bind((ip, port))
        except OSError:
            port = free_port(ip)
    argv = slapd_argv(d, ip, port, "" if anonymous_read else ANONYMOUS_ROOTDSE_ONLY)
    with running(argv, ip, port, "slapd"):
        yield port


def can_unshare() -> bool:
    return shutil.which("unshare") is not None and shutil.which("nsenter") is not None


@contextlib.contextmanager
def rpcbind_netns() -> Iterator[int]:
    """Debian's rpcbind in a network and mount namespace of its own (its loopback up, a
    private tmpfs on /run for its socket and lock): port 111 on its wildcard address is
    reachable only from inside. Yields its PID; run clients with ``in_netns``."""
    need(RPCBIND, "rpcbind")
    if not can_unshare():
        pytest.skip("unshare/nsenter missing: the lab's rpcbind test needs util-linux")
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
            f"ip link set lo up && mount -t tmpfs tmpfs /run && exec {RPCBIND} -f"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            probe = subprocess.run(
                ["nsenter", f"--net=/proc/{proc.pid}/ns/net", "ss", "-ltn", "sport = :111"],
                capture_output=True, timeout=10, check=False)
            if b":111" in probe.stdout:
                break
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.skip(f"rpcbind could not start in a namespace (lab): {err[-200:]}")
            assert time.monotonic() < deadline, "rpcbind did not listen"
            time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def in_netns(pid: int, argv: list[str], timeout: float = 60) -> str:
    """Run ``argv`` inside the network namespace of process ``pid``; its stdout."""
    proc = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", *argv],
                          capture_output=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode()
