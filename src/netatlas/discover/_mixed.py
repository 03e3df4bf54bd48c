"""TCP and UDP discovery of one scan, side by side.

Each transport's engine walks its own copy of the same permutation and takes only its
own probes, so neither waits on the other (a slow UDP retry never stalls TCP) and
memory stays O(concurrency). A position is done when the engine of its transport is
past it, so the run's watermark is the lower of the two; an engine that has finished
its walk no longer holds it back. Opens found by either flow through one bounded queue;
those still queued hold the watermark too, until the consumer has them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from netatlas.discover._stats import DiscoverStats
from netatlas.discover._syn import SynDiscoverer
from netatlas.discover._tcp import Discoverer, Probe
from netatlas.discover._udp import UdpDiscoverer

ProbeSource = Callable[[], Iterator[Probe]]
_DONE = object()


def _only(transport: str, probes: Iterator[Probe]) -> Iterator[Probe]:
    for pos, ep in probes:
        if ep.transport == transport:
            yield pos, ep


class MixedDiscoverer:
    """Runs ``tcp`` (a Discoverer or a SynDiscoverer) and/or ``udp`` (a UdpDiscoverer)
    over one scan."""

    def __init__(self, tcp: Discoverer | SynDiscoverer | None,
                 udp: UdpDiscoverer | None) -> None:
        self.engines: dict[str, Any] = {k: e for k, e in (("tcp", tcp), ("udp", udp)) if e}
        self._finished: set[str] = set()
        self._queued: dict[int, None] = {}  # positions found open, not yet handed over
        self._started = False

    @property
    def stats(self) -> dict[str, DiscoverStats]:
        return {k: e.stats for k, e in self.engines.items()}

    @property
    def watermark(self) -> int:
        """Every position below this is finished by the engine of its transport."""
        if not self._started:
            return 0
        marks = [e.watermark for k, e in self.engines.items() if k not in self._finished]
        if self._queued:
            marks.append(min(self._queued))
        return min(marks) if marks else 1 << 62

    async def run(self, source: ProbeSource,
                  batches: Callable[[str], Any] | None = None) -> AsyncIterator[Probe]:
        """Yield ``(position, endpoint)`` for open endpoints of either transport;
        ``source()`` must return a fresh iterator over the same positions each call.
        ``batches(transport)``, when given, is the same walk restricted to one
        transport as arrays (``TargetSpace.batches``): what a SYN engine takes."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)
        self._started = True

        async def drive(kind: str, engine: Any) -> None:
            try:
                probes = (batches(kind) if batches is not None
                          and isinstance(engine, SynDiscoverer) else _only(kind, source()))
                async for pos, ep in engine.run(probes):
                    self._queued[pos] = None
                    await queue.put((pos, ep))
            except Exception as exc:  # handed to the consumer, raised there
                await queue.put(exc)
                return
            self._finished.add(kind)
            await queue.put(_DONE)

        tasks = [asyncio.create_task(drive(k, e)) for k, e in self.engines.items()]
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if item is _DONE:
                    running -= 1
                    continue
                if isinstance(item, Exception):
                    raise item
                pos, ep = item
                self._queued.pop(pos, None)  # the consumer records it before any await
                yield pos, ep
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
