"""Admission control: at most ``limit`` requests that read the store run at once; up to
``waiting`` more wait their turn, in order, for at most ``max_wait`` seconds; past
either, a fast 503 with Retry-After.

Without it every request started at once and shared the cores with all the others,
so under load each query ran many times slower than alone, until the store's
per-query time limit answered 503 after 20 s (1M rows, 32 clients: 84 of them).

Requests are admitted after the key check (``_guard.py``): a client without a right
key never holds a turn. An export holds its turn while it streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from netatlas.api._errors import error_response
from netatlas.api._limits import MAX_WAIT, is_public

RETRY_AFTER = 1  # seconds: turns come round in well under that when the queue is full
_NO_STORE_PREFIX = "/assets/"  # the web UI's static files


class Admission:
    """Turns to read the store, handed from a leaving request to the longest waiting
    one. Lives on the server's event loop: no lock."""

    def __init__(self, limit: int, waiting: int, max_wait: float = MAX_WAIT) -> None:
        if limit < 1 or waiting < 0 or max_wait < 0:
            raise ValueError("admission needs at least 1 running, 0 waiting, a wait >= 0")
        self.limit = limit
        self.waiting = waiting
        self.max_wait = max_wait
        self.running = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def enter(self) -> bool:
        """Take a turn (True), or False at once when the queue is full, or after
        ``max_wait`` seconds without one."""
        if self.running < self.limit and not self._queue:
            self.running += 1
            return True
        if len(self._queue) >= self.waiting:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.max_wait)
        except BaseException as exc:  # timed out, or the request was cancelled
            if turn.done() and not turn.cancelled():
                self.leave()  # handed a turn just as it gave up: pass it on
            else:
                turn.cancel()
                with contextlib.suppress(ValueError):
                    self._queue.remove(turn)
            if isinstance(exc, TimeoutError):
                return False
            raise
        return True

    def leave(self) -> None:
        """Give the turn to the next waiting request, else free it."""
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.running -= 1


def reads_store(path: str) -> bool:
    return not is_public(path) and not path.startswith(_NO_STORE_PREFIX)


class AdmissionControl:
    """ASGI middleware: each request that may read the store runs in a turn."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not reads_store(scope["path"]):
            await self.app(scope, receive, send)
            return
        a = self.admission
        if not await a.enter():
            await error_response(
                503, f"server busy: {a.running} queries running, {a.queued} waiting; retry",
                {"Retry-After": str(RETRY_AFTER)})(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            a.leave()
