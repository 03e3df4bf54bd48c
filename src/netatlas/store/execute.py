"""What the store's own SQL modules (monitors, shards) run their statements through: a
function taking SQL and parameters, supplied by each backend inside its transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


Execute = Callable[[str, Sequence[Any]], Cursor]
