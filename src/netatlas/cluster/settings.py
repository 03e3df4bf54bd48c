"""What a worker process was started with (``netatlas worker``): set once before Celery
starts; the pool processes it forks inherit it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from netatlas.scope import Scope


@dataclass(slots=True)
class WorkerSettings:
    broker: str
    db: str
    allow: list[str] = field(default_factory=list)
    allow_files: list[str] = field(default_factory=list)
    source_ip: str | None = None
    name: str = ""
    lease_ttl: float = 10.0

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"w{os.getpid()}@{socket.gethostname()}"

    def scope(self) -> Scope:
        """The worker's own limit: what any task may make it touch."""
        return Scope(allow=self.allow, allow_files=self.allow_files)


_current: WorkerSettings | None = None


def configure(settings: WorkerSettings) -> None:
    global _current
    _current = settings


def current() -> WorkerSettings:
    if _current is None:
        raise RuntimeError("this process is not a netatlas worker (netatlas worker sets it)")
    return _current
