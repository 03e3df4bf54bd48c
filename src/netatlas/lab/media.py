"""Lab daemons: streaming media — a GStreamer RTSP server (Debian's gst-rtsp-server)
with one open camera-like stream and one behind Basic authentication on an odd port,
both in one process (lab/rtspd.py, run by Debian's Python, which has PyGObject)."""

from __future__ import annotations

from pathlib import Path

from netatlas.lab.daemon import Daemon, Workspace, by_name, mkdir
from netatlas.lab.services import ServiceSpec

RTSPD = Path(__file__).with_name("rtspd.py")
DEBIAN_PYTHON = "/usr/bin/python3"  # has PyGObject (python3-gi); the venv does not


def _rtsp(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    mkdir(d, 0o755)
    open_, guarded = by_name(specs, "rtsp"), by_name(specs, "rtsp-auth")
    return [DEBIAN_PYTHON, str(RTSPD), f"{open_.ip}:{open_.port}:open",
            f"{guarded.ip}:{guarded.port}:auth"]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("rtsp", "gst-rtsp", _rtsp),
)
