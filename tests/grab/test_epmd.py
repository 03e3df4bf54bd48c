"""epmd's NAMES: the parser on captured replies, and Debian 12's real epmd (erlang-base)
started by the test on a free port, with a node registered the way an Erlang node does
(ALIVE2_REQ on a connection held open)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.epmd import parse_names
from netatlas.model import Endpoint

EPMD = shutil.which("epmd") or "/usr/bin/epmd"
IP = "127.20.250.72"


def test_parse_names() -> None:
    assert parse_names(b"\x00\x00\x11\x11") == {"port": 4369, "nodes": []}
    two = b"\x00\x00\x11\x11name rabbit at port 25672\nname lab at port 40001\n"
    assert parse_names(two, 4369) == {"port": 4369, "nodes": [
        {"name": "rabbit", "port": 25672}, {"name": "lab", "port": 40001}]}
    assert parse_names(two, 4370) is None  # epmd tells its own port: not this one
    assert parse_names(b"\x00\x00\x11\x11HTTP/1.1 400 Bad Request\r\n") is None
    assert parse_names(b"\x00\x00\x00") is None
    assert parse_names(b"\x00\x00\x00\x00") is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz(data: bytes) -> None:
    parse_names(data)
    parse_names(b"\x00\x00\x11\x11" + data, 4369)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((IP, 0))
        port = s.getsockname()[1]
    assert port != 2024
    return port


@pytest.fixture
def epmd() -> Iterator[int]:
    """A real epmd on IP:port (it binds 127.0.0.1 and [::1] on that port too, loopback
    all); stopped by its PID."""
    if not os.path.exists(EPMD):
        pytest.skip("epmd (erlang-base) is not installed")
    port = _free_port()
    proc = subprocess.Popen([EPMD, "-port", str(port)], env={"ERL_EPMD_ADDRESS": IP},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((IP, port), 0.2):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "epmd did not start"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _register(port: int, name: bytes, node_port: int) -> socket.socket:
    """ALIVE2_REQ as a node sends it; the registration lives while the socket does."""
    body = (b"x" + struct.pack(">HBBHHH", node_port, 77, 0, 6, 5, len(name)) + name
            + struct.pack(">H", 0))
    sock = socket.create_connection((IP, port), 2)
    sock.sendall(struct.pack(">H", len(body)) + body)
    reply = sock.recv(16)
    assert reply[:2] == b"v\x00", reply  # ALIVE2_X_RESP, result 0
    return sock


async def test_real_epmd_names(epmd: int) -> None:
    node = _register(epmd, b"netatlaslab", 40123)
    try:
        res = await grab_endpoint(Endpoint(IP, epmd), GrabOptions(read_timeout=2.0))
    finally:
        node.close()
    assert res.status == "success", res.error
    assert res.service == "epmd"
    assert res.sections["epmd"] == {"port": epmd,
                                    "nodes": [{"name": "netatlaslab", "port": 40123}]}
