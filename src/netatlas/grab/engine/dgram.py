"""One request, one reply over UDP: capped, time-bounded, from the right peer only.

The socket is *connected*, so the kernel drops datagrams from any other address or
port, and an ICMP port unreachable comes back as ConnectionRefusedError. Each read
takes at most ``cap`` bytes of one datagram (the rest is discarded by the kernel); a
reply the caller's ``accept`` rejects (wrong id, junk) is skipped, a bounded number of
times, until the deadline. The request is sent again once halfway to the deadline.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import TracebackType

from netatlas.vantage import bind_source

MAX_READS = 16  # datagrams looked at per request before giving up on the peer


class Datagram:
    def __init__(self, ip: str, port: int) -> None:
        self.addr = (ip, port)
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            bind_source(self.sock)  # a worker's --source-ip (netatlas.vantage)
            self.sock.connect(self.addr)  # UDP: no packet, just the peer filter
        except BaseException:
            self.sock.close()
            raise

    async def __aenter__(self) -> Datagram:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _from_peer(self, data: bytes, src: tuple[str, int] | tuple[str, int, int, int]) -> bool:
        return (src[0], src[1]) == self.addr

    async def recv(self, cap: int, timeout: float) -> bytes | None:
        """The next datagram from the peer (at most ``cap`` bytes), or None on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for _ in range(MAX_READS):
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                async with asyncio.timeout(left):
                    data, src = await loop.sock_recvfrom(self.sock, cap)
            except TimeoutError:
                return None
            if self._from_peer(data, src):
                return data
        return None

    async def request(self, payload: bytes, timeout: float, cap: int,
                      accept: Callable[[bytes], bool] | None = None,
                      tries: int = 2) -> bytes | None:
        """Send ``payload`` (up to ``tries`` times) and return the first accepted reply
        (at most ``cap`` bytes), or None after ``timeout`` seconds in all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        step = timeout / max(1, tries)
        reads = 0
        for attempt in range(max(1, tries)):
            self.sock.send(payload)
            resend_at = min(deadline, loop.time() + step) if attempt + 1 < tries else deadline
            while reads < MAX_READS:
                left = resend_at - loop.time()
                if left <= 0:
                    break
                try:
                    async with asyncio.timeout(left):
                        data, src = await loop.sock_recvfrom(self.sock, cap)
                except TimeoutError:
                    break
                reads += 1
                if self._from_peer(data, src) and (accept is None or accept(data)):
                    return data
            if reads >= MAX_READS or loop.time() >= deadline:
                return None
        return None
