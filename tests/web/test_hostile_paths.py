"""Hostile paths under /assets/ (issue 15, defect 3): NUL bytes, traversal, encoded
dots, names longer than the file system allows. Each is a clean 404 from the live
server, and nothing is logged as an error (a 500 came with a traceback)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from tests.web.conftest import LiveUI

HOSTILE = [
    "/assets/x%00",
    "/assets/%00",
    "/assets/app.css%00.js",
    "/assets/..%00",
    "/assets/js/%00/common.js",
    "/assets/../_router.py",
    "/assets/%2e%2e/_router.py",
    "/assets/%2e%2e%2f%2e%2e%2fapi%2f_app.py",
    "/assets/..%2f..%2fapi%2f_app.py",
    "/assets/....//....//_router.py",
    "/assets/%252e%252e/_router.py",
    "/assets/" + "a" * 300 + ".js",  # one name longer than NAME_MAX
    "/assets/" + "a/" * 1500 + "x.js",  # a path longer than PATH_MAX
    "/assets/%ff%fe.js",  # not UTF-8
    "/assets/%c0%ae%c0%ae/_router.py",  # overlong-encoded dots
    "/assets/js\\..\\..\\_router.py",
    "/assets/%5c..%5c_router.py",
    "/assets/~/.bashrc",
    "/assets//etc/passwd",
]


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def server_errors() -> Iterator[_Errors]:
    """Errors uvicorn and Starlette log (they do not propagate to the root logger)."""
    handler = _Errors()
    names = ("uvicorn.error", "uvicorn", "starlette", "fastapi")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield handler
    for name in names:
        logging.getLogger(name).removeHandler(handler)


def raw_get(ui: LiveUI, path: str) -> int:
    """The status of GET ``path`` sent as written (urllib would re-quote it)."""
    host, port = ui.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p[:40])
def test_hostile_asset_paths_are_clean_404s(live_ui: LiveUI, server_errors: _Errors,
                                            path: str) -> None:
    assert raw_get(live_ui, path) in (400, 404)
    assert [r.getMessage() for r in server_errors.records] == []


def test_real_assets_still_served(live_ui: LiveUI) -> None:
    assert raw_get(live_ui, "/assets/app.css") == 200
    assert raw_get(live_ui, "/assets/js/common.js") == 200
