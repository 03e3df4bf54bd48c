"""Start/stop by PID, without the lab: plain processes we start here."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from netatlas.lab.process import (
    PidRecord,
    alive,
    answers_http,
    log_tail,
    read_pidfile,
    spawn,
    stop,
    write_pidfile,
)


def _wait_dead(rec: PidRecord, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(rec):
            return True
        time.sleep(0.05)
    return False


def test_spawn_logs_and_exit_is_seen(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    rec = spawn(["/bin/sh", "-c", "echo boom; exit 3"], log, cwd=tmp_path)
    assert _wait_dead(rec)  # exited, and reaped rather than left a zombie
    assert "boom" in log_tail(log)


@pytest.mark.timeout(30)  # a hang guard: without SIGKILL, stop() would wait for ever
def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    # ignores SIGTERM: stop() must fall back to SIGKILL after the grace period
    rec = spawn(["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
                tmp_path / "y.log", cwd=tmp_path)
    assert alive(rec)
    assert stop(rec, grace=0.5)
    assert not alive(rec)


def test_pidfile_roundtrip_and_reused_pid_is_not_ours(tmp_path: Path) -> None:
    rec = spawn(["/bin/sleep", "30"], tmp_path / "z.log", cwd=tmp_path)
    try:
        pidfile = tmp_path / "z.pid"
        write_pidfile(pidfile, rec)
        assert read_pidfile(pidfile) == rec
        # same PID, other start time: a different process; never signalled
        impostor = PidRecord(rec.pid, rec.start + 1)
        assert not alive(impostor)
        assert stop(impostor, grace=0.2)
        assert alive(rec)
    finally:
        assert stop(rec, grace=2)
    assert read_pidfile(tmp_path / "missing.pid") is None


class _Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(403)  # any status line is an answer
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_answers_http_tells_an_app_that_answers_from_one_that_only_accepts() -> None:
    # what a Python web app still loading looks like: the port accepts, nothing answers
    with socket.create_server(("127.0.0.1", 0)) as mute:
        started = time.monotonic()
        assert not answers_http("127.0.0.1", mute.getsockname()[1], "/api/status",
                                timeout=0.5)
        assert time.monotonic() - started < 5
    httpd = HTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        assert answers_http("127.0.0.1", httpd.server_address[1], "/api/status")
    finally:
        httpd.shutdown()
        httpd.server_close()
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    assert not answers_http("127.0.0.1", port, "/")  # refused
