"""UDP discovery: which UDP endpoints answer a protocol-specific probe.

UDP has no handshake, so each port gets payloads a live service answers
(``_payloads``). One *connected* non-blocking socket per probe in flight: the kernel
drops datagrams from any other address or port, and an ICMP port unreachable comes
back as ECONNREFUSED. Outcomes, as nmap -sU names them:

- any datagram from the target = open (the first one ends the probe: at most
  ``max_reply`` bytes of one datagram are read, the socket is closed at once);
- ECONNREFUSED = closed;
- silence after ``retries`` re-sends, each ``timeout`` seconds apart = open|filtered,
  counted in ``stats.filtered`` and never reported as open.

Every send (first or retry) takes a token from the run's bucket, concurrency is capped
by the fd budget, and progress is the same watermark as TCP discovery.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Iterator

from netatlas.discover._limits import fd_budget
from netatlas.discover._pacing import Pacer
from netatlas.discover._payloads import Payloads
from netatlas.discover._progress import Watermark
from netatlas.discover._stats import DiscoverStats
from netatlas.model import Endpoint
from netatlas.ratelimit import RateBucket
from netatlas.vantage import bind_source

Probe = tuple[int, Endpoint]

_SHORT = frozenset({errno.EAGAIN, errno.ENOBUFS, errno.ENOMEM, errno.EMFILE, errno.ENFILE,
                    errno.EADDRNOTAVAIL})
_BACKOFF_MIN = 0.001
_BACKOFF_MAX = 0.5
MAX_REPLY = 2048


class _InFlight:
    __slots__ = ("attempt", "deadline", "done", "ep", "pos", "sock", "watched")

    def __init__(self, sock: socket.socket, pos: int, ep: Endpoint, deadline: float) -> None:
        self.sock = sock
        self.pos = pos
        self.ep = ep
        self.attempt = 0
        self.deadline = deadline
        self.watched = False  # registered with the event loop (no answer on first look)
        self.done = False  # finished: its socket may already serve another probe


class UdpDiscoverer:
    """UDP probe scanner over a stream of ``(position, Endpoint)`` (UDP endpoints).

    ``rate``: datagram bursts per second for the run (token bucket; None = unlimited).
    ``concurrency``: probes in flight (one socket each). ``timeout``: seconds to wait
    per attempt; ``retries``: re-sends after silence (UDP loses packets; a refusal or a
    reply is an answer).
    """

    def __init__(self, rate: float | None = None, concurrency: int = 1000,
                 timeout: float = 1.0, retries: int = 1, *, batch: int = 128,
                 payloads: Payloads | None = None, max_reply: int = MAX_REPLY,
                 bucket: RateBucket | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be > 0 or None")
        if concurrency < 1 or timeout <= 0 or retries < 0 or batch < 1:
            raise ValueError("concurrency, timeout and batch must be positive, retries >= 0")
        self.rate = rate
        self.concurrency = fd_budget(concurrency)
        self.timeout = float(timeout)
        self.retries = retries
        self.batch = batch
        self.payloads = payloads or Payloads()
        self.max_reply = max_reply
        self.bucket = bucket  # shared with other engines (a cluster's global rate)
        self.stats = DiscoverStats()
        self._progress = Watermark()
        self._running = False

    @property
    def watermark(self) -> int:
        return self._progress.value

    async def run(self, probes: Iterable[Probe]) -> AsyncIterator[Probe]:
        """Yield ``(position, endpoint)`` for each UDP endpoint that answered."""
        if self._running:
            raise RuntimeError("this UdpDiscoverer is already running")
        self.stats = DiscoverStats()
        self._progress = Watermark()
        loop = asyncio.get_running_loop()
        eng = _UdpRun(self, iter(probes), loop)
        self._running = True
        try:
            while True:
                more = eng.pump()
                while eng.opens:
                    pos, ep = eng.opens.popleft()
                    eng.progress.done(pos)
                    yield pos, ep
                if eng.finished():
                    break
                if more:
                    await asyncio.sleep(0)
                else:
                    await eng.wait()
        finally:
            eng.close()
            self.stats.elapsed = loop.time() - eng.started
            self._running = False


class _UdpRun(Pacer):
    def __init__(self, owner: UdpDiscoverer, it: Iterator[Probe],
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop, owner.rate, owner.stats, owner.bucket)
        self.it = it
        self.owner = owner
        self.progress = owner._progress
        self.opens: deque[Probe] = deque()
        self.resend: deque[_InFlight] = deque()  # timed out, waiting for a token
        self.active: dict[int, _InFlight] = {}  # every probe holding a socket, by fd
        self.timers: OrderedDict[int, _InFlight] = OrderedDict()  # sent: deadline order
        self.restarting = 0  # probes waiting out a local shortage for a fresh socket
        # sockets of closed ports, ready to connect to the next target (saves socket()
        # and close() per probe, as TCP discovery does with refused sockets)
        self.pools: dict[int, list[socket.socket]] = {socket.AF_INET: [], socket.AF_INET6: []}
        self.last_pos = -1
        self.backoff = _BACKOFF_MIN
        self.sweep_timer: asyncio.TimerHandle | None = None

    def finished(self) -> bool:
        return (self.exhausted and not self.active and not self.resend and not self.opens
                and not self.restarting)

    # -- driving -----------------------------------------------------------------------

    def _requeued(self) -> bool:
        return bool(self.resend)

    def _batch_size(self) -> int:
        room = self.owner.concurrency - len(self.active) - self.restarting
        return min(max(room, len(self.resend)), self.owner.batch)


    # -- sending -----------------------------------------------------------------------

    def _send_batch(self, n: int) -> int:
        used = 0
        while used < n and self.resend:
            p = self.resend.popleft()
            if p.done:
                continue  # answered while it waited for a token
            used += 1
            if not self._send(p):
                break
        room = self.owner.concurrency - len(self.active) - self.restarting
        while used < n and room > 0 and not self.exhausted:
            try:
                pos, ep = next(self.it)
            except StopIteration:
                self.exhausted = True
                break
            if pos <= self.last_pos:
                raise ValueError(f"probe positions must increase: {pos} after {self.last_pos}")
            self.last_pos = pos
            self.progress.pulled(pos)
            used += 1
            room -= 1
            if not self._start(pos, ep):
                break
        return used

    def _start(self, pos: int, ep: Endpoint, fresh: bool = True) -> bool:
        """Open a connected socket for ``ep`` and send; False on a local shortage."""
        if fresh:
            self.progress.add(pos)  # in pull order, so the oldest stays first
        family = socket.AF_INET6 if ":" in ep.ip else socket.AF_INET
        pool = self.pools[family]
        try:
            if pool:
                sock = pool.pop()
            else:
                sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
                bind_source(sock)  # a worker's --source-ip (netatlas.vantage)
        except OSError as exc:
            return self._local_trouble(pos, ep, exc)
        try:
            sock.connect((ep.ip, ep.port))  # (re)connecting also resets the peer filter
        except OSError as exc:
            sock.close()
            return self._local_trouble(pos, ep, exc)
        p = _InFlight(sock, pos, ep, 0.0)
        fd = sock.fileno()
        self.active[fd] = p
        go_on = self._send(p)
        if fd in self.active:  # no answer yet: let the event loop watch it
            self.loop.add_reader(fd, self._on_read, fd)
            p.watched = True
        return go_on

    def _local_trouble(self, pos: int, ep: Endpoint, exc: OSError) -> bool:
        if exc.errno in _SHORT:
            self.stats.fd_exhausted += 1
            self._back_off()
            # a fresh socket is needed: try this probe again after the back-off
            self.restarting += 1
            self.loop.call_later(self.backoff, self._restart, pos, ep)
            return False
        self.stats.errors += 1
        self.stats.done += 1
        self.progress.done(pos)
        return True

    def _restart(self, pos: int, ep: Endpoint) -> None:
        self.restarting -= 1
        self._start(pos, ep, fresh=False)
        self._wake()

    def _back_off(self) -> None:
        self.backoff_until = self.loop.time() + self.backoff
        self.backoff = min(self.backoff * 2, _BACKOFF_MAX)

    def _send(self, p: _InFlight) -> bool:
        """Send the port's payloads and start the attempt's clock; False when a local
        shortage says to pause."""
        fd = p.sock.fileno()
        p.deadline = self.loop.time() + self.owner.timeout
        self.timers[fd] = p
        self.timers.move_to_end(fd)  # constant timeout: the end is the latest deadline
        if self.sweep_timer is None:
            self.sweep_timer = self.loop.call_at(p.deadline, self._sweep)
        payloads = self.owner.payloads.for_port(p.ep.port)
        self.stats.sent += 1  # attempts, as TCP counts connects
        sock = p.sock
        for data in payloads:
            try:
                sock.send(data)
                # on loopback an ICMP unreachable is queued before send() returns: a
                # closed port ends here, without a datagram more or an event-loop round
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED:
                    self._finish(p, "closed")
                    return True
            except OSError as exc:
                if exc.errno == errno.ECONNREFUSED:  # an ICMP unreachable already came
                    self._finish(p, "closed")
                    return True
                if exc.errno in _SHORT:
                    self._back_off()
                    break  # the deadline and a retry cover what was not sent
                self._finish(p, "error")
                return True
        self.backoff = _BACKOFF_MIN
        return self.backoff_until <= self.loop.time()

    # -- answers ---------------------------------------------------------------------

    def _on_read(self, fd: int) -> None:
        p = self.active.get(fd)
        if p is None:
            return
        try:
            data, src = p.sock.recvfrom(self.owner.max_reply)
        except BlockingIOError:
            return
        except ConnectionRefusedError:
            self._finish(p, "closed")
        except OSError:
            self._finish(p, "error")
        else:
            # connected, so the kernel filters the peer; checked again all the same. The
            # reply itself is not kept: the grab stage asks again, properly.
            if (src[0], src[1]) == (p.ep.ip, p.ep.port) and data is not None:
                self._finish(p, "open")
        self._wake()

    def _finish(self, p: _InFlight, outcome: str) -> None:
        p.done = True
        fd = p.sock.fileno()
        if self.active.pop(fd, None) is not None and p.watched:
            self.loop.remove_reader(fd)
        self.timers.pop(fd, None)
        pool = self.pools[p.sock.family]
        if outcome == "closed" and len(pool) < self.owner.batch:
            pool.append(p.sock)  # nothing pending on it: connect() it to the next target
        else:
            p.sock.close()
        st = self.stats
        st.done += 1
        if outcome == "open":
            st.open += 1
            self.opens.append((p.pos, p.ep))  # done once yielded
            return
        if outcome == "closed":
            st.closed += 1
        elif outcome == "filtered":
            st.filtered += 1
        else:
            st.errors += 1
        self.progress.done(p.pos)

    def _sweep(self) -> None:
        self.sweep_timer = None
        now = self.loop.time()
        timers = self.timers
        while timers:
            fd, p = next(iter(timers.items()))
            if p.deadline > now:
                self.sweep_timer = self.loop.call_at(p.deadline, self._sweep)
                break
            del timers[fd]
            if p.attempt < self.owner.retries:
                p.attempt += 1
                self.stats.retried += 1
                self.resend.append(p)  # sent again when a token allows
            else:
                self._finish(p, "filtered")
        self._wake()

    def close(self) -> None:
        for t in (self.pump_timer, self.sweep_timer):
            if t is not None:
                t.cancel()
        for fd, p in list(self.active.items()):
            if p.watched:
                self.loop.remove_reader(fd)
            p.sock.close()
        for pool in self.pools.values():
            for sock in pool:
                sock.close()
            pool.clear()
        self.active.clear()
        self.timers.clear()
        self.resend.clear()
