"""Grab one UDP endpoint: ask it in the protocols netatlas speaks over UDP.

The port's usual protocol goes first; when it stays silent (or the port is not a
usual one), the other grabbers ask together, and the first that recognises its own
reply fills the result. Every grabber sends read-only identification requests only.
ICMP port unreachable (ConnectionRefusedError) ends the grab at once.
"""

from __future__ import annotations

import asyncio

from ...model import Endpoint, GrabResult
from ..protocols import registry
from .context import Outcome
from .options import GrabOptions
from .registry import UdpProbe


def probes() -> dict[str, UdpProbe]:
    """The registry's UDP probes, in its order."""
    return {p.name: p.udp_probe for p in registry if p.udp_probe is not None}


def usual() -> dict[int, str]:
    """Port -> the protocol asked first there."""
    out: dict[int, str] = {}
    for p in registry:
        if p.udp_probe is not None:
            for port in p.udp_ports:
                out.setdefault(port, p.name)
    return out


async def grab(ep: Endpoint, opts: GrabOptions, result: GrabResult) -> None:
    asks = probes()
    first = usual().get(ep.port)
    if first is not None and await asks[first](ep.ip, ep.port, opts, result) \
            == Outcome.POSITIVE:
        return
    others = [name for name in asks if name != first]
    # each asks into its own scratch result; the first positive (in registry order) is kept
    scratch = {name: GrabResult() for name in others}
    outcomes = await asyncio.gather(
        *(asks[n](ep.ip, ep.port, opts, scratch[n]) for n in others),
        return_exceptions=True)
    for name, outcome in zip(others, outcomes, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome
        if outcome == Outcome.POSITIVE:
            found = scratch[name]
            result.service, result.data = found.service, found.data
            result.sections.update(found.sections)
            result.responses.update(found.responses)
            return
    refused = [o for o in outcomes if isinstance(o, ConnectionRefusedError)]
    if refused:
        raise refused[0]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    if errors:
        raise errors[0]
    result.status, result.error = "io-timeout", "no reply to any UDP probe"
