"""A live netatlas web UI for the tests: a real SQLite store filled with synthetic
observations plus a scanned hostile HTTP server, served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web import synthetic

WEB_HOST = "127.20.230.2"
HOSTILE_HOST = "127.20.230.1"
HOSTILE_PORT = 8080
FORBIDDEN_PORT = 2024
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@dataclass
class Services:
    store: Any
    geoip: Any = None


@dataclass
class LiveUI:
    url: str
    store: Any
    hostile_scanned: bool  # True when the hostile server went through the real pipeline


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    """Answers everything with payloads in the status line's neighbours: title, headers,
    body. The response is what a malicious host would serve to a scanner."""

    def version_string(self) -> str:
        return synthetic.XSS

    def do_GET(self) -> None:
        body = (
            f"<html><head><title>{synthetic.XSS}</title></head>"
            f"<body><h1>{synthetic.XSS_IMG}</h1>{synthetic.XSS_SCRIPT}</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("X-Evil", synthetic.XSS_IMG)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[tuple[str, int]]:
    server = http.server.ThreadingHTTPServer((HOSTILE_HOST, HOSTILE_PORT), _HostileHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HOSTILE_HOST, HOSTILE_PORT
    server.shutdown()
    server.server_close()


def _scan_hostile(store: Any) -> bool:
    """Scan the hostile server with the real pipeline when it is available."""
    try:
        from netatlas import pipeline
    except ImportError:
        return False
    cfg = pipeline.ScanConfig(targets=[HOSTILE_HOST], ports=str(HOSTILE_PORT),
                              allow=["127.20.0.0/16"], exclude_ports=str(FORBIDDEN_PORT))
    scan, plan = pipeline.start_scan(store, cfg)
    failure: list[BaseException] = []

    def run() -> None:  # its own thread: Playwright's sync API may own this one's loop
        try:
            asyncio.run(pipeline.run(store, scan, cfg, plan))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if failure:
        raise failure[0]
    store.flush()
    return True


def _free_socket(host: str) -> socket.socket:
    for _ in range(20):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        if sock.getsockname()[1] != FORBIDDEN_PORT:
            return sock
        sock.close()
    raise RuntimeError("no free port")


@pytest.fixture(scope="session")
def live_ui(tmp_path_factory: pytest.TempPathFactory,
            hostile_server: tuple[str, int]) -> Iterator[LiveUI]:
    import uvicorn
    from fastapi import FastAPI

    from netatlas.store import open_store
    from netatlas.web import create_router

    store = open_store(tmp_path_factory.mktemp("web") / "ui.db")
    for obs in synthetic.observations():
        store.add(obs)
    # stored hostile record on another port: payloads in product, tags, risks, location
    store.add(synthetic.hostile_observation(HOSTILE_HOST, 8081))
    store.flush()
    scanned = _scan_hostile(store)
    if not scanned:
        store.add(synthetic.hostile_observation(HOSTILE_HOST, HOSTILE_PORT))
        store.flush()

    app = FastAPI()
    app.include_router(create_router(Services(store=store, geoip=synthetic.FakeGeoIP())))
    sock = _free_socket(WEB_HOST)
    sock.listen(64)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    port = sock.getsockname()[1]
    yield LiveUI(url=f"http://{WEB_HOST}:{port}", store=store, hostile_scanned=scanned)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    store.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A Chromium per module, closed when the module ends: Playwright's sync API keeps
    an event loop running in this thread while it is open, and under xdist a worker goes
    on to other groups' tests, which call asyncio.run() (as tests/hostile's browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Watch:
    """What a page did that it must not: dialogs, CSP violations, page errors."""

    dialogs: list[str]
    violations: list[str]
    errors: list[str]


WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample);
});
"""


@dataclass
class UI:
    page: Any
    watch: Watch
    url: str


@pytest.fixture
def ui(browser: Any, live_ui: LiveUI) -> Iterator[UI]:
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  base_url=live_ui.url)
    pg = context.new_page()
    watch = Watch([], [], [])

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    pg.add_init_script(WATCH_SCRIPT)

    def only_ours(route: Any) -> None:
        # nothing leaves the test server: no CDN, no tiles, no fonts from elsewhere
        if route.request.url.startswith(live_ui.url):
            route.continue_()
        else:
            watch.errors.append("outside request: " + route.request.url)
            route.abort()

    pg.route("**/*", only_ours)
    yield UI(page=pg, watch=watch, url=live_ui.url)
    context.close()


def screenshot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=False)
    return path
