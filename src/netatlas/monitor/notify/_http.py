"""One HTTP POST with the standard library: no redirects followed (a receiver cannot
send a delivery elsewhere), a time limit, a 2xx answer or a SendError."""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit

from .message import SendError as SendErrorType

TIMEOUT = 10.0


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> int:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SendErrorType(f"not an http(s) URL: {url!r}")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": "netatlas-monitor", **headers})
        response = conn.getresponse()
        response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise SendErrorType(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        raise SendErrorType(f"HTTP {response.status} {response.reason}")
    return response.status

