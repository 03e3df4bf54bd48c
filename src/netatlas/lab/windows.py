"""Lab daemons: Windows-world and telephony services from Debian: Samba (SMB), xrdp (RDP), Kamailio
(SIP)."""

from __future__ import annotations

from pathlib import Path

from netatlas.lab.daemon import BINARIES, Daemon, Prepare, Workspace, copy_tls, mkdir, one, write
from netatlas.lab.services import ServiceSpec
from netatlas.lab.templates import render

_SAMBA_DIRS = ("state", "lock", "private", "cache", "run", "ncalrpc")


def _smbd(profile: str) -> Prepare:
    """Samba as a careless admin leaves it ("guest": a guest share, signing optional, so
    anonymous sessions are granted), strict ("strict": signing mandatory and encryption
    required, which makes smbd refuse anonymous and guest sessions: they have no key to
    encrypt with), or "legacy": the guest setup with SMB1 (NT1) still allowed, on 139."""

    def prepare(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
        spec = one(specs)
        strict = profile == "strict"
        mkdir(d, 0o755)
        for sub in _SAMBA_DIRS:
            mkdir(d / sub, 0o700 if sub == "private" else 0o755)
        shares = ""
        if not strict:
            mkdir(d / "public", 0o555)  # empty and not writable
            shares = (f"[public]\n   path = {d / 'public'}\n   guest ok = yes\n"
                      "   read only = yes\n   browseable = yes\n")
        conf = write(d / "smb.conf", render(
            "smb.conf.in", dir=d, ip=spec.ip, port=spec.port,
            netbios_name=f"LAB{profile.upper()}",
            signing="mandatory" if strict else "default",
            encrypt="required" if strict else "default",
            restrict_anonymous=2 if strict else 0,
            extra="   server min protocol = NT1\n" if profile == "legacy" else "",
            shares=shares))
        return [BINARIES["smbd"], "--foreground", "--no-process-group", "--debug-stdout",
                "-s", str(conf)]

    return prepare


def _xrdp(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    copy_tls(ws, d, "root")
    conf = write(d / "xrdp.ini", render("xrdp.conf.in", dir=d, ip=spec.ip, port=spec.port))
    # Without fork=true xrdp serves connections in its own process: the PID we watch.
    return [BINARIES["xrdp"], "--nodaemon", "--config", str(conf)]


def _kamailio(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(tuple(s for s in specs if s.transport == "tcp"))  # 5060/udp: same address
    mkdir(d, 0o755)
    mkdir(d / "run", 0o755)
    conf = write(d / "kamailio.cfg", render("kamailio.conf.in", ip=spec.ip, port=spec.port))
    # -DD: no fork of the main process; -E: log to stderr; -Y: runtime files here, not
    # /run/kamailio; small memory pools (the default shm is 64 MB).
    return [BINARIES["kamailio"], "-DD", "-E", "-f", str(conf), "-Y", str(d / "run"),
            "-P", str(d / "run" / "kamailio.pid"), "-w", str(d), "-m", "16", "-M", "4"]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("smbd", "smbd", _smbd("guest")),
    Daemon("smbd-strict", "smbd", _smbd("strict")),
    Daemon("smbd-legacy", "smbd", _smbd("legacy")),
    Daemon("xrdp", "xrdp", _xrdp),
    # Kamailio listens from its "tcp main" child: the lab checks the whole process tree
    Daemon("kamailio", "kamailio", _kamailio),
)
