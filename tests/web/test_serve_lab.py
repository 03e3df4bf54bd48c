"""The real thing end to end: scan the lab with a MaxMind-format database, start
`netatlas serve` as a user would, and use the pages in Chromium — search by country,
the map with the scanned hosts on it, a host page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_scan_lab import netatlas
from tests.enrich._mmdb import asn_db, city_db
from tests.web.conftest import screenshot

pytestmark = pytest.mark.lab


def _free_port(host: str) -> int:
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port != 2024:
            return port


@pytest.fixture(scope="module")
def served(lab: list[Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("serve")
    db = tmp / "lab.db"
    city, asn = city_db(tmp), asn_db(tmp)
    netatlas("scan", "127.20.0.2", "127.20.0.3", "127.20.0.4", "-p", "22,80,443,6379",
             "--exclude-ports", "2024", "--allow", "127.20.0.0/16",
             "--geoip", str(city), "--geoip", str(asn), "--json", db=db)
    host, port = "127.0.0.1", _free_port("127.0.0.1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "netatlas.cli.main", "serve", "--db", str(db), "--host", host,
         "--port", str(port), "--open", "--geoip", str(city)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"netatlas serve did not start: {err!r}") from None
            time.sleep(0.2)
    yield f"http://{host}:{port}"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_search_map_and_host_pages_of_a_scanned_lab(browser: Any, served: str,
                                                    tmp_path: Path) -> None:
    page = browser.new_context(viewport={"width": 1440, "height": 900},
                               base_url=served).new_page()
    page.goto("/search?q=country:AQ")
    body = page.locator("body").inner_text()
    for endpoint in ("127.20.0.2:80", "127.20.0.3:22", "127.20.0.4:6379"):
        assert endpoint in body
    screenshot(page, "serve-search")

    page.goto("/map")
    page.wait_for_selector("#map canvas", timeout=15_000)
    deadline = time.monotonic() + 15
    while "located" not in page.locator("#map-stats").inner_text():
        assert time.monotonic() < deadline, "map never reported located hosts"
        time.sleep(0.1)
    assert page.locator("#map-stats").inner_text().startswith("3 of 3 hosts located")
    assert any(c.startswith("Antarctica") for c in
               page.locator("#map-countries li").all_inner_texts())
    screenshot(page, "serve-map")

    page.goto("/host/127.20.0.3")
    assert "OpenSSH" in page.locator("body").inner_text()
    page.context.close()
