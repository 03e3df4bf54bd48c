"""The lab's sharing services (lab/sharing.py) as their own clients see them: Debian's rsync
client lists the daemon's modules and is asked for a password only for [private]; the X
servers behind lab/x11fwd.py answer the connection setup on their own address only, and
the Xvfb behind each stops with it."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import psutil
import pytest

from netatlas.grab.protocols.x11 import SETUP_REQUEST
from netatlas.lab.lab import Lab
from netatlas.lab.services import LabService

pytestmark = pytest.mark.lab


def _svc(lab_up: list[LabService], name: str) -> LabService:
    svc = next((s for s in lab_up if s.name == name), None)
    if svc is None or not svc.running:
        pytest.skip(f"lab service {name} is not running")
    return svc


def test_rsync_client_lists_modules(lab_up: list[LabService]) -> None:
    svc = _svc(lab_up, "rsync")
    url = f"rsync://{svc.ip}:{svc.port}/"
    out = subprocess.run(["rsync", "--list-only", url], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert [line.split()[0] for line in out.splitlines()] == ["pub", "private"]
    listing = subprocess.run(["rsync", "--list-only", url + "pub/"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    assert "README" in listing  # [pub] needs no password
    denied = subprocess.run(["rsync", "--list-only", url + "private/"], capture_output=True,
                            text=True, timeout=30, check=False,
                            env={**os.environ, "RSYNC_PASSWORD": "wrong"})
    assert denied.returncode != 0 and "auth failed" in denied.stderr


def _setup_reply(svc: LabService) -> bytes:
    with socket.create_connection((svc.ip, svc.port), 5) as s:
        s.settimeout(5)
        s.sendall(SETUP_REQUEST)
        return s.recv(8)


def test_x11_open_and_refusing(lab_up: list[LabService]) -> None:
    assert _setup_reply(_svc(lab_up, "x11-open"))[0] == 1  # Success
    assert _setup_reply(_svc(lab_up, "x11-auth"))[0] == 0  # Failed


def test_xvfb_runs_under_its_forwarder_on_no_tcp_port(running_lab: Lab) -> None:
    services = running_lab.status()  # PIDs as they are now (other tests restart the lab)
    for name in ("x11-open", "x11-auth"):
        svc = _svc(services, name)
        assert svc.pid is not None
        children = psutil.Process(svc.pid).children()
        xvfb = [c for c in children if Path(c.exe()).name == "Xvfb"]
        assert len(xvfb) == 1, children
        assert not [c for c in xvfb[0].net_connections("inet")
                    if c.status == psutil.CONN_LISTEN]

