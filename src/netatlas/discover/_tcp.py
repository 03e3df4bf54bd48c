"""Asyncio TCP connect discovery: which endpoints accept a connection.

Cheapest path per probe: a raw non-blocking socket, ``connect_ex`` to start the
handshake, a second ``connect_ex`` a batch later to read the outcome (0/EISCONN =
open, ECONNREFUSED = closed, EALREADY = still going), close. On loopback nearly every
outcome is known by then, so most probes never touch the event loop. The rest
("stragglers") wait on a private epoll set (one reader in the asyncio loop, drained
in batches) or, off Linux, on ``loop.add_writer``; a time-ordered map times them out.
Open sockets are closed with SO_LINGER 0 (RST): no TIME_WAIT, so no ephemeral port
exhaustion over millions of probes. A refused socket is back in TCP_CLOSE with its
ephemeral port released, and Linux lets it connect again: refused sockets go to a
small pool and are reused, which skips socket()+close() and the kernel's per-socket
set-up; that alone is ~1.7x the probe rate on loopback.
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import select
import socket
import struct
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable, Iterator

from netatlas.discover._limits import fd_budget
from netatlas.discover._pacing import Pacer
from netatlas.discover._progress import Watermark
from netatlas.discover._stats import DiscoverStats
from netatlas.model import Endpoint
from netatlas.ratelimit import RateBucket
from netatlas.vantage import source_for

Probe = tuple[int, Endpoint]

_AF4 = socket.AF_INET
_AF6 = socket.AF_INET6
_STREAM_NB = socket.SOCK_STREAM | getattr(socket, "SOCK_NONBLOCK", 0)
_LINGER0 = struct.pack("ii", 1, 0)
_OPEN = frozenset({0, errno.EISCONN})
_PENDING = frozenset({errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK})
# Local shortages: back off and retry, never report the target as closed.
_ADDR_SHORT = frozenset({errno.EADDRNOTAVAIL, errno.EAGAIN})
_FD_SHORT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BACKOFF_MIN = 0.001
_BACKOFF_MAX = 0.5


class Discoverer:
    """TCP connect scanner over a stream of ``(position, Endpoint)`` probes.

    ``rate``: probes per second for the whole run (token bucket; None = unlimited).
    ``concurrency``: cap on sockets in flight (lowered to fit RLIMIT_NOFILE).
    ``timeout``: seconds per connect attempt; ``retries``: extra attempts after a
    timeout only (a refusal is an answer).
    """

    def __init__(
        self,
        rate: float | None = None,
        concurrency: int = 1000,
        timeout: float = 1.0,
        retries: int = 0,
        *,
        batch: int = 256,
        bucket: RateBucket | None = None,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be > 0 or None")
        if concurrency < 1 or timeout <= 0 or retries < 0 or batch < 1:
            raise ValueError("concurrency, timeout and batch must be positive, retries >= 0")
        self.rate = rate
        # In flight plus at most one batch of idle pooled sockets.
        self.concurrency = max(1, fd_budget(concurrency + batch) - batch)
        self.timeout = float(timeout)
        self.retries = retries
        self.batch = batch
        self.bucket = bucket  # shared with other engines (a cluster's global rate)
        self.stats = DiscoverStats()
        self._progress = Watermark()
        self._running = False

    @property
    def watermark(self) -> int:
        """Every position below this is finished (open ones: already yielded)."""
        return self._progress.value

    async def run(self, probes: Iterable[Probe]) -> AsyncIterator[Probe]:
        """Yield ``(position, endpoint)`` for each open endpoint, as found.

        Probes are pulled lazily, only as slots free up; positions must increase.
        """
        if self._running:
            raise RuntimeError("this Discoverer is already running")
        self.stats = DiscoverStats()
        self._progress = Watermark()
        loop = asyncio.get_running_loop()
        eng = _Run(self, iter(probes), loop)
        self._running = True
        try:
            while True:
                more = eng.pump()
                opens = eng.opens
                while opens:
                    pos, ep = opens.popleft()
                    eng.progress.done(pos)  # delivered: now it counts as finished
                    yield pos, ep
                if eng.finished():
                    break
                if more:
                    await asyncio.sleep(0)  # let the loop (and our consumer) breathe
                else:
                    await eng.wait()
        finally:
            eng.close()
            self.stats.elapsed = loop.time() - eng.started
            self._running = False


class _Straggler:
    __slots__ = ("addr", "attempt", "deadline", "ep", "pos", "sock")

    def __init__(self, sock: _socket.socket, pos: int, ep: Endpoint,
                 addr: tuple[str, int], attempt: int, deadline: float) -> None:
        self.sock = sock
        self.pos = pos
        self.ep = ep
        self.addr = addr
        self.attempt = attempt
        self.deadline = deadline


class _Run(Pacer):
    """State of one ``Discoverer.run``: lives only as long as the generator."""

    def __init__(self, owner: Discoverer, it: Iterator[Probe],
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop, owner.rate, owner.stats, owner.bucket)
        self.it = it
        self.progress = owner._progress
        self.concurrency = owner.concurrency
        self.timeout = owner.timeout
        self.retries = owner.retries
        self.batch = owner.batch
        self.opens: deque[Probe] = deque()
        self.retry: deque[tuple[int, Endpoint, int]] = deque()  # already in progress map
        # Stragglers by fd, in launch order = deadline order (the timeout is constant).
        self.active: OrderedDict[int, _Straggler] = OrderedDict()
        self.last_pos = -1
        self.backoff = _BACKOFF_MIN
        self.sweep_timer: asyncio.TimerHandle | None = None
        self.epoll = select.epoll() if hasattr(select, "epoll") else None
        # Refused sockets, ready to connect again (see module doc), per family.
        self.pools: dict[int, list[_socket.socket]] = {_AF4: [], _AF6: []}
        src4, src6 = source_for(_AF4), source_for(_AF6)
        # a worker's --source-ip: new sockets are bound to it (pooled ones stay bound);
        # a target of the other family goes from an unbound socket
        self.source = None if src4 is None and src6 is None else (src4 or ("", 0),
                                                                   src6 or ("", 0))
        if self.epoll is not None:
            loop.add_reader(self.epoll.fileno(), self._on_epoll)

    # -- driving -------------------------------------------------------------------

    def finished(self) -> bool:
        return self.exhausted and not self.retry and not self.active and not self.opens

    def _requeued(self) -> bool:
        return bool(self.retry)

    def _batch_size(self) -> int:
        return min(self.concurrency - len(self.active), self.batch)

    def _send_batch(self, n: int) -> int:
        return self._launch(n)


    # -- the hot path ----------------------------------------------------------------

    def _launch(self, n: int) -> int:
        """Start up to ``n`` connects, then read every outcome known by now."""
        new_socket = _socket.socket
        source = self.source  # (IPv4, IPv6) bind addresses, or None
        pool4 = self.pools[_AF4]
        pool6 = self.pools[_AF6]
        it = self.it
        retry = self.retry
        last = self.last_pos
        batch: list[tuple[int, Endpoint, int, bool, _socket.socket | None, tuple[str, int], int]]
        batch = []
        append = batch.append
        used = 0
        for _ in range(n):
            if retry:
                pos, ep, attempt = retry.popleft()
                fresh = False
            else:
                try:
                    pos, ep = next(it)
                except StopIteration:
                    self.exhausted = True
                    break
                if pos <= last:
                    raise ValueError(f"probe positions must increase: {pos} after {last}")
                last = pos
                attempt = 0
                fresh = True
            used += 1
            ip = ep.ip
            addr = (ip, ep.port)
            pool = pool6 if ":" in ip else pool4
            if pool:
                sock = pool.pop()
            else:
                try:
                    sock = new_socket(_AF6 if pool is pool6 else _AF4, _STREAM_NB)
                    if source is not None:
                        sock.bind(source[pool is pool6])
                except OSError as exc:
                    append((pos, ep, attempt, fresh, None, addr, exc.errno or 0))
                    if exc.errno in _FD_SHORT:
                        break
                    continue
            r = sock.connect_ex(addr)
            append((pos, ep, attempt, fresh, sock, addr, r))
            if r in _ADDR_SHORT:
                break
        self.last_pos = last
        self.progress.pulled(last)
        self._settle(batch)
        return used

    def _settle(
        self,
        batch: list[tuple[int, Endpoint, int, bool, _socket.socket | None, tuple[str, int], int]],
    ) -> None:
        st = self.stats
        progress = self.progress
        opens = self.opens
        n_open = n_closed = n_err = n_sent = 0
        short = False
        pools = self.pools
        cap = self.batch
        for pos, ep, attempt, fresh, sock, addr, r in batch:
            if sock is None:  # socket() itself failed
                if r in _FD_SHORT:
                    st.fd_exhausted += 1
                    short = True
                    if fresh:
                        progress.add(pos)
                    self.retry.append((pos, ep, attempt))
                else:
                    n_err += 1
                    if not fresh:
                        progress.done(pos)
                continue
            if r in _ADDR_SHORT:
                sock.close()
                st.addr_unavailable += 1
                short = True
                if fresh:
                    progress.add(pos)
                self.retry.append((pos, ep, attempt))
                continue
            n_sent += 1
            if r == errno.EINPROGRESS:
                r = sock.connect_ex(addr)
            if r == errno.ECONNREFUSED:
                pool = pools[sock.family]
                if len(pool) < cap:
                    pool.append(sock)  # refused: the socket can connect again
                else:
                    sock.close()
                n_closed += 1
                if not fresh:
                    progress.done(pos)
            elif r in _OPEN:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
                sock.close()
                n_open += 1
                if fresh:
                    progress.add(pos)  # finished once yielded
                opens.append((pos, ep))
            elif r in _PENDING:
                if fresh:
                    progress.add(pos)
                self._park(_Straggler(sock, pos, ep, addr, attempt,
                                      self.loop.time() + self.timeout))
            else:
                sock.close()
                n_err += 1
                if not fresh:
                    progress.done(pos)
        st.sent += n_sent
        st.open += n_open
        st.closed += n_closed
        st.errors += n_err
        st.done += n_closed + n_err + n_open
        if short:
            self.backoff_until = self.loop.time() + self.backoff
            self.backoff = min(self.backoff * 2, _BACKOFF_MAX)
        else:
            self.backoff = _BACKOFF_MIN

    # -- stragglers ----------------------------------------------------------------

    def _park(self, s: _Straggler) -> None:
        fd = s.sock.fileno()
        self.active[fd] = s
        if self.epoll is not None:
            self.epoll.register(fd, select.EPOLLOUT)
        else:
            self.loop.add_writer(fd, self._on_writable, fd)
        if self.sweep_timer is None:
            self.sweep_timer = self.loop.call_at(s.deadline, self._sweep)

    def _unpark(self, fd: int) -> _Straggler | None:
        s = self.active.pop(fd, None)
        if s is not None and self.epoll is None:
            self.loop.remove_writer(fd)
        return s  # closing the socket drops it from the epoll set

    def _on_epoll(self) -> None:
        assert self.epoll is not None
        while True:
            events = self.epoll.poll(0, 1024)
            for fd, _ev in events:
                self._answer(fd)
            if len(events) < 1024:
                break
        self._wake()

    def _on_writable(self, fd: int) -> None:
        self._answer(fd)
        self._wake()

    def _answer(self, fd: int) -> None:
        s = self.active.get(fd)
        if s is None:
            return
        r = s.sock.connect_ex(s.addr)
        if r in _PENDING:  # spurious wake-up: keep waiting, same place in line
            return
        self._unpark(fd)
        self._conclude(s, r)

    def _conclude(self, s: _Straggler, r: int) -> None:
        st = self.stats
        if r in _OPEN:
            s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)
            s.sock.close()
            st.open += 1
            st.done += 1
            self.opens.append((s.pos, s.ep))  # progress entry stays until yielded
            return
        s.sock.close()
        if r == errno.ECONNREFUSED:
            st.closed += 1
        elif r == errno.ETIMEDOUT:
            self._timed_out(s)
            return
        else:
            st.errors += 1
        st.done += 1
        self.progress.done(s.pos)

    def _timed_out(self, s: _Straggler) -> None:
        if s.attempt < self.retries:
            self.stats.retried += 1
            self.retry.append((s.pos, s.ep, s.attempt + 1))
            return
        self.stats.filtered += 1
        self.stats.done += 1
        self.progress.done(s.pos)

    def _sweep(self) -> None:
        self.sweep_timer = None
        now = self.loop.time()
        active = self.active
        while active:
            fd = next(iter(active))
            s = active[fd]
            if s.deadline > now:
                self.sweep_timer = self.loop.call_at(s.deadline, self._sweep)
                break
            self._unpark(fd)
            r = s.sock.connect_ex(s.addr)  # last look: it may have answered just now
            if r in _PENDING:
                s.sock.close()
                self._timed_out(s)
            else:
                self._conclude(s, r)
        self._wake()

    def close(self) -> None:
        for t in (self.pump_timer, self.sweep_timer):
            if t is not None:
                t.cancel()
        for fd in list(self.active):
            s = self._unpark(fd)
            if s is not None:
                s.sock.close()
        for pool in self.pools.values():
            for sock in pool:
                sock.close()
            pool.clear()
        if self.epoll is not None:
            self.loop.remove_reader(self.epoll.fileno())
            self.epoll.close()
            self.epoll = None
