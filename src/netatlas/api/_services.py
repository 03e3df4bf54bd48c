"""The one application object the API and the web UI share (``app.state.services``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netatlas.api._limits import AUTH_FAIL_BURST, AUTH_FAIL_RATE
from netatlas.api._ratelimit import RateLimiter
from netatlas.api._scans import ScanManager
from netatlas.enrich import GeoIP, enrich_record
from netatlas.store import Store


@dataclass(slots=True)
class Services:
    db: str                      # the store path
    store: Store
    limiter: RateLimiter
    scans: ScanManager
    allow: list[str] = field(default_factory=list)  # the server's scan allow list
    geoip: GeoIP | None = None
    open_access: bool = False
    # failed key checks per client address (api/_auth.py); create_app sets its limits
    auth_failures: RateLimiter = field(
        default_factory=lambda: RateLimiter(AUTH_FAIL_RATE, AUTH_FAIL_BURST))

    def enrich(self, record: dict[str, Any]) -> dict[str, Any]:
        return enrich_record(record, self.geoip)

    def close(self) -> None:
        self.store.close()
        if self.geoip is not None:
            self.geoip.close()
