"""What a provider sends, and how it says it could not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SendError(RuntimeError):
    """A delivery attempt failed (receiver down, refused, answered an error)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One event as a notification: the record in the Shodan banner shape, and who
    and what it is about."""

    event_id: int
    kind: str
    summary: str
    monitor_id: str
    monitor_name: str
    triggers: list[str]
    record: dict[str, Any] = field(default_factory=dict)
