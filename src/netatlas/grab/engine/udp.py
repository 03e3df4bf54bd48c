"""Grab one UDP endpoint: ask it in the protocols netatlas speaks over UDP.

The port's usual protocol goes first; when it stays silent (or the port is not a
usual one), the other grabbers ask together, and the first that recognises its own
reply fills the result. Every grabber sends read-only identification requests only.
ICMP port unreachable (ConnectionRefusedError) ends the grab at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ...model import Endpoint, GrabResult
from ..protocols import bacnet, dnsudp, ntp, sip, snmp
from .context import Outcome
from .options import GrabOptions

Probe = Callable[[str, int, GrabOptions, Any], Awaitable[str]]
PROBES: dict[str, Probe] = {"snmp": snmp.probe, "ntp": ntp.probe, "dns": dnsudp.probe,
                            "bacnet": bacnet.probe, "sip": sip.probe_udp}
USUAL: dict[int, str] = {53: "dns", 5353: "dns", 123: "ntp", 161: "snmp", 47808: "bacnet",
                         5060: "sip"}


async def grab(ep: Endpoint, opts: GrabOptions, result: GrabResult) -> None:
    first = USUAL.get(ep.port)
    if first is not None and await PROBES[first](ep.ip, ep.port, opts, result) \
            == Outcome.POSITIVE:
        return
    others = [name for name in PROBES if name != first]
    # each asks into its own scratch result; the first positive (in PROBES order) is kept
    scratch = {name: GrabResult() for name in others}
    outcomes = await asyncio.gather(
        *(PROBES[n](ep.ip, ep.port, opts, scratch[n]) for n in others),
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
