"""Counters for one discovery run."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class DiscoverStats:
    """What a run did. Only ``open`` endpoints are yielded; the rest is counted here.

    ``sent`` counts connect attempts (retries included); ``done`` counts positions
    finished. ``addr_unavailable`` (EADDRNOTAVAIL: ephemeral ports exhausted) and
    ``fd_exhausted`` (EMFILE/ENFILE/ENOBUFS) are local resource shortages: the probe
    is retried after a back-off, never counted as closed.
    """

    sent: int = 0
    done: int = 0
    open: int = 0
    closed: int = 0
    filtered: int = 0
    errors: int = 0
    retried: int = 0
    addr_unavailable: int = 0
    fd_exhausted: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Connect attempts per second so far."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "rate": self.rate}
