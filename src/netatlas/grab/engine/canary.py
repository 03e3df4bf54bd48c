"""The open-proxy check's canary when the user names none: an HTTP service this scan
found inside its own scope. Every grab offers its endpoint; the first plain-HTTP one that
answered ``GET /`` with 200 and is not a proxy itself becomes the canary, so a proxy is
only ever asked to fetch a page of a host the scan was allowed to touch anyway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...model import Endpoint, GrabResult
from .proxy import looks_like_proxy


class CanaryPool:
    """HTTP URLs inside the scope, in the order the scan found them (one scan's worth)."""

    def __init__(self, in_scope: Callable[[str], bool], keep: int = 8) -> None:
        self._in_scope = in_scope
        self._keep = keep
        self._urls: list[tuple[Endpoint, str]] = []

    def offer(self, ep: Endpoint, result: GrabResult) -> None:
        """Keep ``ep`` as a canary if it served a page over plain HTTP and is no proxy."""
        if len(self._urls) >= self._keep or ep.transport != "tcp" or "ssl" in result.sections:
            return
        http: Any = result.sections.get("http")
        if result.status != "success" or not isinstance(http, dict):
            return
        if http.get("status") != 200 or looks_like_proxy(http) or not self._in_scope(ep.ip):
            return
        host = f"[{ep.ip}]" if ":" in ep.ip else ep.ip
        url = f"http://{host}/" if ep.port == 80 else f"http://{host}:{ep.port}/"
        self._urls.append((ep, url))

    def pick(self, asking: Endpoint) -> str | None:
        """A canary for the proxy at ``asking`` (never itself), or None while none is known."""
        return next((url for ep, url in self._urls if ep != asking), None)


def wants_canary(result: GrabResult) -> bool:
    """An HTTP endpoint that looks like a proxy and was not checked yet."""
    http = result.sections.get("http")
    return isinstance(http, dict) and looks_like_proxy(http) and "proxy" not in http
