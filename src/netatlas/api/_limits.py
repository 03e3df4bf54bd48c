"""Bounds on what a request may carry, enforced before any route sees it, and the
defaults of the load limits ``netatlas serve`` takes (its options name these)."""

from __future__ import annotations

MAX_BODY = 1024 * 1024  # bytes: a scan request or a form, not an upload
MAX_QUERY_STRING = 16 * 1024  # bytes, as uvicorn's h11 caps a request head
MAX_HEADERS = 16 * 1024  # bytes of header names and values together
MAX_FIELD = 2048  # characters of one form or JSON field a route reads by hand
MAX_TARGET = 128  # characters of one target, allow or exclude entry (an IPv6 range: 79)
MAX_TARGETS = 1024  # entries in one list of targets

# served without a key: the API's own documentation
PUBLIC_PATHS = frozenset({"/docs", "/redoc", "/openapi.json"})
PUBLIC_PREFIX = "/docs/assets/"

# -- load ------------------------------------------------------------------------------
RATE = 20.0  # requests per second per key (0: unlimited)
BURST = 40  # requests a key may make at once before the rate applies
AUTH_FAIL_RATE = 1.0  # failed key checks per second per client address, once past
AUTH_FAIL_BURST = 20  # this many
# requests reading the store at once: None sizes it to the store's reader pool
MAX_QUERIES: int | None = None
MAX_WAITING = 64  # requests that may wait for a turn: a coroutine each, no thread
MAX_WAIT = 10.0  # seconds a request waits for its turn before a 503


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX)
