"""Lab daemons: file and desktop sharing. Debian's rsync daemon on an odd port with one
module anyone may read and one behind ``auth users``; Debian's Xvfb twice, open to
anyone (``-ac``) on X's own port and refusing clients without a cookie on an odd port,
each reachable over TCP on its own address through lab/x11fwd.py (Xvfb itself can only
bind the wildcard address). NFS is not here: its mountd needs the kernel's nfsd, and
rpcbind always binds port 111 on the wildcard address (tests/grab/test_portmap.py runs
it in a network namespace of its own)."""

from __future__ import annotations

import sys
from pathlib import Path

from netatlas.lab.daemon import BINARIES, Daemon, Workspace, mkdir, one, write
from netatlas.lab.services import ServiceSpec

X11FWD = Path(__file__).with_name("x11fwd.py")
# The display (/tmp/.X11-unix/X<N>, machine-wide) of each lab X server: 100-199, from
# the lab's /24, so a second lab (NETATLAS_LAB_NET) beside the default one takes others;
# tests take 10-63.
_DISPLAY_OFFSET = {"x11-open": 0, "x11-auth": 1}


def display(spec: ServiceSpec) -> int:
    third = int(spec.ip.split(".")[2])
    return 100 + (third % 50) * 2 + _DISPLAY_OFFSET[spec.daemon]

RSYNCD_CONF = """# netatlas lab rsync daemon: [pub] readable by anyone, [private] behind auth users
use chroot = no
uid = nobody
gid = nogroup
max connections = 20
log file = {d}/rsyncd.log
[pub]
  path = {d}/pub
  comment = lab public files
  read only = yes
[private]
  path = {d}/private
  comment = lab private files
  read only = yes
  auth users = backup
  secrets file = {d}/secrets
"""


def _rsync(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    mkdir(d / "pub", 0o755)
    mkdir(d / "private", 0o700)
    write(d / "pub" / "README", "netatlas lab: nothing to see here\n")
    # the password is never used: nobody is meant to log in
    write(d / "secrets", "backup:lab-unused-secret\n", 0o600)
    conf = write(d / "rsyncd.conf", RSYNCD_CONF.format(d=d), 0o600)
    return [BINARIES["rsync"], "--daemon", "--no-detach", f"--config={conf}",
            f"--address={spec.ip}", f"--port={spec.port}"]


def _xvfb(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o700)
    mode = "auth" if "auth-required" in spec.tags else "open"
    return [sys.executable, str(X11FWD), f"{spec.ip}:{spec.port}",
            str(display(spec)), mode, str(d)]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("rsync", "rsync", _rsync),
    Daemon("x11-open", "xvfb", _xvfb),
    Daemon("x11-auth", "xvfb", _xvfb),
)
