"""Admission control: a cap on requests reading the store at once, a short queue, and a
fast 503 with Retry-After past it (instead of every query slowing down until the
store's 20 s limit trips); ``serve`` takes the cap and the failed-key limiter."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from netatlas.api import create_app
from netatlas.api._admission import Admission
from netatlas.api._limits import MAX_WAITING
from tests.api.conftest import ALLOW

PLENTY = 1_000_000


# -- the gate alone -------------------------------------------------------------------

async def test_turns_are_capped_queued_in_order_and_refused_past_the_queue() -> None:
    gate = Admission(limit=2, waiting=2, max_wait=5)
    assert await gate.enter() and await gate.enter()
    order: list[int] = []

    async def wait(i: int) -> None:
        assert await gate.enter()
        order.append(i)

    waiters = [asyncio.create_task(wait(i)) for i in range(2)]
    await asyncio.sleep(0)
    assert gate.running == 2 and gate.queued == 2
    assert not await gate.enter()  # full: refused at once, not queued
    gate.leave()
    gate.leave()
    await asyncio.gather(*waiters)
    assert order == [0, 1] and gate.running == 2 and gate.queued == 0
    gate.leave()
    gate.leave()
    assert gate.running == 0


async def test_a_wait_is_bounded_and_a_cancelled_waiter_leaves_the_queue() -> None:
    gate = Admission(limit=1, waiting=5, max_wait=0.05)
    assert await gate.enter()
    assert not await gate.enter()  # waited 50 ms, no turn came
    assert gate.queued == 0
    task = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.queued == 0
    gate.leave()
    assert gate.running == 0 and await gate.enter()


def test_a_gate_needs_a_turn() -> None:
    with pytest.raises(ValueError):
        Admission(limit=0, waiting=1)


# -- through the app ----------------------------------------------------------------------

@pytest.fixture
def held(db: Path, keys: dict[str, str]) -> Iterator[tuple[Any, threading.Event]]:
    """An app admitting 1 request, 1 waiting, whose counts block until released."""
    app = create_app(str(db), allow=ALLOW, rate=PLENTY, burst=PLENTY,
                     auth_fail_rate=PLENTY, auth_fail_burst=PLENTY,
                     max_queries=1, max_waiting=1)
    release = threading.Event()
    store = app.state.services.store
    count = store.count

    def slow_count(query: str) -> int:
        release.wait(10)
        return int(count(query))

    store.count = slow_count
    yield app, release
    release.set()
    app.state.services.close()


async def test_past_the_cap_and_the_queue_a_fast_503(held: tuple[Any, threading.Event],
                                                     keys: dict[str, str]) -> None:
    app, release = held
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        c.headers["X-API-Key"] = keys["read"]
        running = asyncio.create_task(c.get("/api/v1/count", params={"q": "port:22"}))
        waiting = asyncio.create_task(c.get("/api/v1/count", params={"q": "port:80"}))
        for _ in range(200):  # until one runs and one waits
            admission = _admission(app)
            if admission.running == 1 and admission.queued == 1:
                break
            await asyncio.sleep(0.01)
        r = await asyncio.wait_for(c.get("/api/v1/search", params={"q": "port:22"}), 2)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert "busy" in r.json()["error"]
        # no key, or a wrong one: refused before taking (or waiting for) a turn
        r = await c.get("/api/v1/count", headers={"X-API-Key": "0" * 32})
        assert r.status_code == 401
        assert (await c.get("/openapi.json")).status_code == 200  # the docs read no store
        release.set()
        assert [(await t).status_code for t in (running, waiting)] == [200, 200]
        assert (await c.get("/api/v1/count", params={"q": "port:22"})).status_code == 200
    assert _admission(app).running == 0


def _admission(app: Any) -> Admission:
    """The gate the app's middleware holds."""
    stack: Any = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = stack
    while stack is not None:
        if hasattr(stack, "admission"):
            return stack.admission  # type: ignore[no-any-return]
        stack = getattr(stack, "app", None)
    raise AssertionError("no admission middleware")


def test_the_cap_defaults_to_the_store_reader_pool(db: Path) -> None:
    app = create_app(str(db), allow=ALLOW)
    try:
        gate = _admission(app)
        assert gate.limit == app.state.services.store.readers >= 4
        assert gate.waiting == MAX_WAITING
    finally:
        app.state.services.close()


# -- serve's options ------------------------------------------------------------------------

def test_serve_passes_its_load_options(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    import uvicorn

    import netatlas.api._app as app_module
    from netatlas.cli.main import cli

    seen: dict[str, Any] = {}
    real = app_module.create_app

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "create_app", spy)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: app.state.services.close())
    result = CliRunner().invoke(cli, [
        "serve", "--db", str(db), "--auth-fail-rate", "0.5", "--auth-fail-burst", "3",
        "--max-queries", "2", "--max-waiting", "5"])
    assert result.exit_code == 0, result.output
    assert (seen["auth_fail_rate"], seen["auth_fail_burst"], seen["max_queries"],
            seen["max_waiting"]) == (0.5, 3, 2, 5)
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--max-queries", "0"])
    assert result.exit_code == 2 and "--max-queries" in result.output
