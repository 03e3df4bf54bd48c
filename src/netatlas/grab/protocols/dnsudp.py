"""DNS grabber over UDP: the same CHAOS TXT ``version.bind`` query and parser as the TCP
grabber (``dns``), sent as one datagram."""

from __future__ import annotations

import os
from typing import Any

from ..engine.context import Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.options import GrabOptions
from . import dns


async def probe(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    qid = int.from_bytes(os.urandom(2), "big")

    def ours(reply: bytes) -> bool:
        try:
            dns.parse_response(reply, qid)
        except ProtocolError:
            return False
        return True

    async with Datagram(ip, port) as d:
        reply = await d.request(dns.message(qid=qid), opts.read_timeout, dns.MAX_MSG, ours)
    if reply is None:
        return Outcome.SILENT
    result.service = "domain"
    result.data = reply
    result.responses["DNSVersionBindReq"] = reply
    result.sections["dns"] = dns.parse_response(reply, qid)
    return Outcome.POSITIVE
