"""Stateless SYN discovery (ZMap-style): raw SYNs out, kernel-filtered replies in.

Each probe is one 40-byte IPv4+TCP SYN written straight into a batch buffer and sent
with ``sendmmsg``, a batch split over one thread per CPU; replies are read from a ring
shared with the kernel (``_rawnet``). Probes come a batch at a time as arrays
(positions, addresses, ports: ``TargetSpace.batches``), and are checked, hashed and
written as arrays (numpy), as replies are parsed and checked: no Python per probe but
for a SYN-ACK (an Endpoint is built for an open port only). A stream of
``(position, Endpoint)`` is taken too, read into the same arrays. numpy is imported with
the first SYN run, not with this module (a connect scan never loads it).

Nothing is kept per probe: the source port and the sequence number carry a keyed hash
of the target address and port, and the sequence number also carries the probe's
permutation position:
``seq = position + H(ip, port) mod 2**32``. H is AES (a random key per run) over one
16-byte block (address, port, zeros), as in ZMap, computed for a whole batch of probes
or replies with one call (``TargetHash``). A reply is believed only if

- it is a SYN-ACK (open) or a RST+ACK (closed) to the source port H gives for its
  source address and port, and
- its ack, minus one, minus H, is a position this run sent and has not finished, whose
  endpoint (recomputed from the permutation, ``locate``) is exactly the replying one
  (for a SYN-ACK; a RST only has to fall in the window of positions in flight).

A forger who does not know the key has one chance in 2**32 per packet, as with ZMap.
Our own kernel answers every SYN-ACK with a RST (it never opened that connection), as it
does for ``nmap -sS``; nothing on the machine is changed.

What is kept is per batch, not per probe: the first position and the deadline of each
batch in flight (the resume watermark: a batch is finished ``timeout`` seconds after its
last send — the cooldown — or, with ``retries``, as soon as all its probes answered),
and, only with ``retries``, 7 bytes per probe of the batch: its destination address (4)
and port (2) and whether it answered (1), plus, when the
batch's positions are not one contiguous run, each one's offset from the first (4). A
retransmission is rebuilt, not stored: its packet is written from that address, port and
position by the same code and hashed under the same key as the first send, so it is the
same SYN (same source port, same sequence number), without recomputing the endpoint from
the permutation. Memory is O(rate x timeout), a few bytes a probe in flight, and flat in
the size of the target space.

Sending refuses, before a packet is written, any destination outside ``allowed`` (the
scan's allow list minus its deny list, as IPv4 intervals): a hard guard in the sender
itself, whatever the probe iterator hands over. A retransmission goes to an address that
guard passed at the first send (kept since, as sent), so it is not looked up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol, cast

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from netatlas.discover import _rawnet as raw
from netatlas.discover._pacing import Pacer
from netatlas.discover._progress import Watermark
from netatlas.discover._stats import DiscoverStats
from netatlas.model import Endpoint
from netatlas.ratelimit import RateBucket
from netatlas.scope.errors import OutOfScope
from netatlas.vantage import source_for

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from netatlas.scope.batches import Batch

    U64 = npt.NDArray[np.uint64]
else:

    class _Numpy:
        """numpy, imported at its first use (a SYN run's): a connect scan imports this
        module but never loads numpy (16 MiB of RSS)."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            globals()["np"] = numpy
            return getattr(numpy, name)

    np = _Numpy()

Probe = tuple[int, Endpoint]
Locate = Callable[[int], Endpoint | None]


class ProbeSource(Protocol):
    """Probes a batch at a time: ``take(n)`` gives the next ``n`` as (int64 positions,
    uint32 IPv4 addresses, uint16 ports), fewer only when it is over
    (``netatlas.scope.ProbeBatches``)."""

    def take(self, n: int) -> Batch: ...

# Source ports: 4096 ports above Linux's default ephemeral range (32768-60999), so a
# probe never shares a 4-tuple with a connection of this host (the grab stage's).
SPORT_BASE = 61440
SPORT_BITS = 12
SPORTS = 1 << SPORT_BITS
_M32 = 0xFFFFFFFF
_WINDOW = 65535
_HDR = struct.Struct("!BBHHHBBHIIHHIIBBHHH")  # IPv4 header + TCP header, no options
# what changes from probe to probe, from the IP header's destination (offset 16) on:
# destination, source port, destination port, seq, ack, offset+flags, window, checksum,
# urgent pointer
_REPLY_IP = struct.Struct("!I")  # source address (IP header offset 12), any header length
_TCP = struct.Struct("!HHIIxB")  # source port, destination port, seq, ack, flags
_BLOCK = struct.Struct("!IH")  # a hash input: address, port (then zeros to 16 bytes)
_BACKOFF_MIN = 0.001
_BACKOFF_MAX = 0.5
_HEARTBEAT = 0.25
# probes per sendmmsg batch (when the rate allows): per batch there are a few numpy
# calls and a hand-off to the sender threads; 4096 against 1024 cut a /12 on loopback
# from 1.56 to 1.42 s in-process (two senders)
BATCH = 4096


class _Layout:
    """numpy's views of the buffers (built at the first SYN run, with numpy)."""

    def __init__(self) -> None:
        # a slot: the fields written per probe, the rest is written once
        self.packet = np.dtype({"names": ["dst", "sport", "dport", "seq", "sum"],
                                "formats": [">u4", ">u2", ">u2", ">u4", ">u2"],
                                "offsets": [16, 20, 22, 24, 36], "itemsize": raw.PACKET})
        # sockaddr_in's address, at offset 4 of its slot
        self.sockaddr = np.dtype({"names": ["addr"], "formats": [">u4"], "offsets": [4],
                                  "itemsize": 16})
        # a reply with a 20-byte IP header: version+IHL, source address, source port,
        # destination port, ack, flags (the destination address the kernel's filter
        # checked)
        self.reply = self.replies(0, raw.SNAPLEN)
        # struct mmsghdr's msg_len
        self.msglen = np.dtype({"names": ["len"], "formats": ["=u4"], "offsets": [56],
                                "itemsize": 64})
        # a hash input: address, port (then zeros to 16 bytes)
        self.input = np.dtype({"names": ["ip", "port"], "formats": [">u4", ">u2"],
                               "offsets": [0, 4], "itemsize": 16})
        self.offset_types = {"I": np.uint32, "Q": np.uint64}
        self.no_dests = np.empty(0, np.uint32)
        self.no_ports = np.empty(0, np.uint16)

    @staticmethod
    def replies(net: int, stride: int) -> Any:
        """Replies with their IPv4 header at ``net``, one every ``stride`` bytes."""
        return np.dtype({"names": ["vihl", "sip", "sport", "dport", "ack", "flags"],
                         "formats": ["u1", ">u4", ">u2", ">u2", ">u4", "u1"],
                         "offsets": [net + o for o in (0, 12, 20, 22, 28, 33)],
                         "itemsize": stride})


@cache
def _layout() -> _Layout:
    return _Layout()


def _ntoa(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def allowed_intervals(scope_intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged IPv4 intervals for the sender's guard."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(scope_intervals):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


class TargetHash:
    """H(address, port): a keyed pseudo-random 64-bit value per target, for a batch at a
    time. Each target is one AES block (its IPv4 address and port, zero-padded) enciphered
    in ECB mode under the run's key; H is the block's first 8 bytes (native order). One
    ``cryptography`` call per batch replaces a keyed BLAKE2b call per probe (4 ns a
    block against 600 ns a call here): as strong a PRF, without Python per probe."""

    def __init__(self, key: bytes, size: int) -> None:
        if len(key) not in (16, 24, 32):
            key = hashlib.blake2b(key, digest_size=32).digest()
        self._enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        self.size = size
        self.block = bytearray(16 * size)  # the inputs, written with ``put_many``
        self._inputs = np.frombuffer(self.block, _layout().input)  # (never resized)

    def put(self, k: int, ip: int, port: int) -> None:
        """Write target ``k``'s input."""
        _BLOCK.pack_into(self.block, 16 * k, ip, port)

    def put_many(self, ips: Any, ports: Any) -> None:
        """Write inputs 0.. from two arrays (numpy's, or ``array("I")`` and
        ``array("H")``): two strided copies into the big-endian fields of the blocks."""
        inputs = self._inputs[:len(ips)]
        inputs["ip"] = ips
        inputs["port"] = ports

    def hashes(self, n: int) -> U64:
        """H of the first ``n`` inputs written, in order (64-bit unsigned ints)."""
        out = self._enc.update(memoryview(self.block)[:16 * n])
        return np.frombuffer(out, np.uint64)[::2]

    def one(self, ip: int, port: int) -> int:
        """H of one target (tests, and what a forger would need the key for)."""
        out = self._enc.update(_BLOCK.pack(ip, port) + bytes(10))
        return int(memoryview(out).cast("Q")[0])


class _Group:
    """With retries: one batch as first sent, shared by its retransmissions. Per probe
    (slot order): its destination address (``dests``, 4 bytes) and port (``ports``, 2),
    what a retransmission is written from; one byte (``answered``: a SYN-ACK or RST came
    back); and, only when the batch's positions have gaps, the position's offset from
    ``first`` (ascending, 4 bytes); a contiguous batch's slot ``s`` is position
    ``first + s``. ``silent``: how many have not answered yet."""

    __slots__ = ("alive", "answered", "count", "dests", "first", "offsets", "ports",
                 "silent")

    def __init__(self, first: int, count: int, offsets: array[int] | None = None,
                 dests: npt.NDArray[np.uint32] | None = None,
                 ports: npt.NDArray[np.uint16] | None = None) -> None:
        self.first = first
        self.count = count
        self.offsets = offsets
        self.dests = _layout().no_dests if dests is None else dests
        self.ports = _layout().no_ports if ports is None else ports
        self.answered = bytearray(count)
        self.silent = count
        self.alive = 1  # pieces (first send, retransmissions) in flight or due

    def position(self, slot: int) -> int:
        offsets = self.offsets
        return self.first + (slot if offsets is None else offsets[slot])

    def slot(self, pos: int) -> int:
        """The slot that sent ``pos``, or -1 (a position this batch skipped)."""
        off = pos - self.first
        offsets = self.offsets
        if offsets is None:
            return off if 0 <= off < self.count else -1
        s = bisect_left(offsets, off)
        return s if s < self.count and offsets[s] == off else -1


def _offsets(positions: Any) -> array[int] | None:
    """``positions`` (ascending; a numpy array or an ``array("q")``) as offsets from the
    first: None when they are one contiguous run, else 4 bytes each (8 past a 2**32
    span)."""
    pos = np.asarray(positions, np.int64)
    first, last = int(pos[0]), int(pos[-1])
    if last - first + 1 == len(pos):
        return None
    code = "I" if last - first <= _M32 else "Q"
    out = array(code)
    out.frombytes((pos - first).astype(_layout().offset_types[code]).tobytes())
    return out


def _receiver(sock: socket.socket, size: int) -> raw.RingReceiver | raw.BatchReceiver:
    """A ring shared with the kernel where it works, else ``recvmmsg``."""
    if raw.ring_supported():
        try:
            # room for the replies to a few batches between two reads
            return raw.RingReceiver(sock, max(raw.RING_FRAMES, 4 * size), size)
        except OSError:  # an old kernel, no memory to lock: read with system calls
            pass
    return raw.BatchReceiver(sock, size)


def _is_source(probes: object) -> bool:
    return callable(getattr(probes, "take", None))


class _FromProbes:
    """A stream of ``(position, Endpoint)`` as a ProbeSource: each probe's address read
    from its text, as before the batch path (hand-made streams, the mixed engine's)."""

    def __init__(self, probes: Iterable[Probe]) -> None:
        self.it = iter(probes)

    def take(self, n: int) -> Batch:
        positions: list[int] = []
        dests: list[int] = []
        ports: list[int] = []
        aton, from_bytes = socket.inet_aton, int.from_bytes
        for pos, ep in islice(self.it, n):
            ip = ep.ip
            if ":" in ip:
                raise ValueError(f"--syn scans IPv4 only; {ip} needs --connect")
            positions.append(pos)
            dests.append(from_bytes(aton(ip), "big"))
            ports.append(ep.port)
        return (np.array(positions, np.int64), np.array(dests, np.uint32),
                np.array(ports, np.uint16))


class _Batch:
    """One send of a batch of SYNs in flight: the first send (all the batch's slots) or a
    retransmission (the silent ones among slots ``start`` to ``end``). ``first``,
    ``count``: the batch as first sent (its watermark key). ``group``: with retries, the
    batch's answers, shared by all its sends; without, None and nothing else is kept."""

    __slots__ = ("attempt", "count", "cursor", "deadline", "end", "first", "group",
                 "start")

    def __init__(self, first: int, count: int, deadline: float, attempt: int = 0,
                 group: _Group | None = None, start: int = 0, end: int | None = None) -> None:
        self.first = first
        self.count = count
        self.deadline = deadline
        self.attempt = attempt
        self.group = group
        self.start = start  # the slots this send covered: [start, end)
        self.end = count if end is None else end
        self.cursor = start  # slots looked at so far when sending again


class SynDiscoverer:
    """Stateless SYN scanner over a ProbeSource (``TargetSpace.batches``: positions,
    addresses and ports as arrays, no Endpoint per probe) or a stream of
    ``(position, Endpoint)`` (IPv4, TCP).

    ``locate(position)``: the endpoint at a position (None if none), the inverse the
    replies are checked against. ``allowed``: IPv4 intervals (ints) a packet may go
    to. ``rate``: SYNs per second (token bucket; None = unlimited). ``timeout``: seconds
    to wait for a reply after each send, before a retransmission and after the last
    one (the cooldown). ``retries``: re-sends to probes that stayed silent. ``senders``:
    threads a batch is sent from (default: the CPUs we may use, at most 4; see
    ``_rawnet.BatchSender``). ``shard=(i, n)``:
    this run is shard i of n running at once from the same address (processes, workers):
    it takes the i-th of n equal slices of the source ports, so the kernel hands each run
    only its own replies (none counted invalid by another, none read twice).
    """

    def __init__(self, locate: Locate, allowed: Sequence[tuple[int, int]],
                 rate: float | None = None, timeout: float = 1.0, retries: int = 0, *,
                 batch: int = BATCH, bucket: RateBucket | None = None,
                 key: bytes | None = None, shard: tuple[int, int] = (0, 1),
                 senders: int | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be > 0 or None")
        if timeout <= 0 or retries < 0 or batch < 1:
            raise ValueError("timeout and batch must be positive, retries >= 0")
        self.locate = locate
        self.allowed = allowed_intervals(allowed)
        self.rate = rate
        self.timeout = float(timeout)
        self.retries = retries
        self.batch = batch
        self.bucket = bucket
        self.key = key or os.urandom(32)
        i, n = shard
        if not 0 <= i < n <= SPORTS:
            raise ValueError(f"shard must be (i, n) with 0 <= i < n <= {SPORTS}: {shard}")
        self.sport_span = SPORTS // n
        self.sport_lo = SPORT_BASE + i * self.sport_span
        self.senders = raw.sender_threads() if senders is None else max(1, senders)
        self.stats = SynStats()
        self._progress = Watermark()
        self._unyielded: dict[int, None] = {}
        self._running = False

    @property
    def watermark(self) -> int:
        """Every position below this is finished (open ones: already yielded)."""
        mark = self._progress.value
        return min(mark, min(self._unyielded)) if self._unyielded else mark

    async def run(self, probes: ProbeSource | Iterable[Probe]) -> AsyncIterator[Probe]:
        """Yield ``(position, endpoint)`` for each endpoint that answered SYN-ACK (its
        Endpoint built then, from ``locate``: only open ones get one)."""
        if self._running:
            raise RuntimeError("this SynDiscoverer is already running")
        self.stats = SynStats()
        self._progress = Watermark()
        self._unyielded = {}
        loop = asyncio.get_running_loop()
        eng = _SynRun(self, probes, loop)  # opens the sockets: RawSocketDenied
        self._running = True
        try:
            while True:
                eng.expire()  # first: a batch due for a retransmission is sent now
                more = eng.pump()
                opens = eng.opens
                while opens:
                    pos, ep = opens.popleft()
                    self._unyielded.pop(pos, None)  # the consumer records it at once
                    yield pos, ep
                if eng.finished():
                    break
                if more:
                    await asyncio.sleep(0)
                else:
                    await eng.wait()
        finally:
            eng.close()
            st = self.stats
            st.elapsed = loop.time() - eng.started
            st.filtered = max(0, st.done - st.open - st.closed)
            self._running = False


@dataclass(slots=True)
class SynStats(DiscoverStats):
    """DiscoverStats (``sent``: SYNs, retransmissions included; ``filtered``: probes
    that stayed silent), plus the replies the kernel's filter let through
    (``received``), those that failed the check (``invalid``: forged, stale, another
    scanner's), repeated answers (``duplicate``) and replies the kernel dropped for
    want of room to queue them (``dropped``: the ring or receive buffer was full)."""

    received: int = 0
    invalid: int = 0
    duplicate: int = 0
    dropped: int = 0


class _SynRun(Pacer):
    """State of one ``SynDiscoverer.run``: the sockets, the batches in flight."""

    def __init__(self, owner: SynDiscoverer, it: ProbeSource | Iterable[Probe],
                 loop: asyncio.AbstractEventLoop) -> None:
        self.sender = raw.open_sender()
        try:
            self.receiver = raw.open_receiver()
        except BaseException:
            self.sender.close()
            raise
        super().__init__(loop, owner.rate, owner.stats, owner.bucket)
        self.owner = owner
        self.it: ProbeSource = (cast(ProbeSource, it) if _is_source(it)
                                else _FromProbes(cast(Iterable[Probe], it)))
        self.stats: SynStats = owner.stats
        self.progress = owner._progress
        self.timeout = owner.timeout
        self.retries = owner.retries
        self.locate = owner.locate
        self.unyielded = owner._unyielded
        self.out = raw.BatchSender(self.sender, owner.batch, owner.senders)
        self.starts = [a for a, _ in owner.allowed]
        self.ends = [b for _, b in owner.allowed]
        self.g_starts = np.array(self.starts, np.int64)
        self.g_ends = np.array(self.ends, np.int64)
        self.slots = np.frombuffer(self.out.packets, _layout().packet)
        self.sockaddrs = np.frombuffer(self.out.addrs, _layout().sockaddr)
        self.opens: deque[Probe] = deque()
        self.inflight: deque[_Batch] = deque()  # deadline order (constant timeout)
        self.resend: deque[_Batch] = deque()  # due for a retransmission, awaiting tokens
        # with retries: the batches in flight by first position (for a reply's answered
        # byte), retired ones skipped from ``ghead`` on and trimmed now and then
        self.gfirst: list[int] = []
        self.groups: list[_Group] = []
        self.ghead = 0
        self.opened: set[int] = set()  # positions in flight found open (duplicates)
        self.last_pos = -1
        self.src = 0  # our IPv4 address, known at the first probe
        self.const = 0  # the checksum's fixed part for that address
        self.backoff = _BACKOFF_MIN
        self.pending: tuple[int, int] | None = None  # slots not sent (local shortage)
        self.listening = False  # the receiver is bound (at the first probe)
        self.reading = False  # ... and watched by the loop (only while we wait)
        self.expire_timer: asyncio.TimerHandle | None = None
        self.rx: raw.RingReceiver | raw.BatchReceiver = _receiver(self.receiver, owner.batch)
        rx = self.rx
        if isinstance(rx, raw.RingReceiver):
            self.replies = np.frombuffer(rx.packets, _layout().replies(rx.net, rx.stride))
            self.lengths = rx.views(np)[1]
        else:
            self.replies = np.frombuffer(rx.packets, _layout().reply)
            self.lengths = np.frombuffer(rx.lengths, _layout().msglen)["len"]
        self.hash = TargetHash(owner.key, max(owner.batch, self.rx.size))

    # -- driving -------------------------------------------------------------------

    def finished(self) -> bool:
        return (self.exhausted and not self.inflight and not self.resend and not self.opens
                and self.pending is None)

    def _requeued(self) -> bool:
        return bool(self.resend) or self.pending is not None

    def _batch_size(self) -> int:
        return self.out.size

    def _start(self, ip: str) -> None:
        """The first probe: our source address for it, and the receiver bound to the
        replies to that address."""
        given = source_for(socket.AF_INET)
        src = given[0] if given else raw.source_address(ip)
        self.src = s = int.from_bytes(socket.inet_aton(src), "big")
        lo = self.owner.sport_lo
        raw.listen(self.receiver, s, lo, lo + self.owner.sport_span - 1)
        self.listening = True
        # pseudo-header (source, protocol, TCP length) + data offset/flags + window: a
        # one's complement sum of 16-bit words is a sum modulo 0xFFFF, so 32-bit values
        # go in whole
        self.const = s + socket.IPPROTO_TCP + 20 + 0x5002 + _WINDOW
        # the fixed part of every slot: the IP header up to the destination
        buf = self.out.packets
        for j in range(self.out.size):
            _HDR.pack_into(buf, raw.PACKET * j, 0x45, 0, raw.PACKET, 0, 0x4000, 64,
                           socket.IPPROTO_TCP, 0, s, 0, 0, 0, 0, 0, 0x50, raw.SYN, _WINDOW,
                           0, 0)

    # -- sending -------------------------------------------------------------------

    def _send_batch(self, n: int) -> int:
        if self.pending is not None:  # what a local shortage held back goes first
            start, end = self.pending
            self.pending = None
            self._transmit(start, end)
            return 0
        if self.resend:
            return self._send_retry(n)
        return self._send_new(n)

    def _transmit(self, start: int, end: int) -> None:
        sent = self.out.send(start, end)
        self.stats.sent += sent
        if start + sent < end:
            self.pending = (start + sent, end)
            self.stats.fd_exhausted += 1
            self.backoff_until = self.loop.time() + self.backoff
            self.backoff = min(self.backoff * 2, _BACKOFF_MAX)
        else:
            self.backoff = _BACKOFF_MIN
        self.drain()

    def _send_new(self, n: int) -> int:
        """Up to ``n`` new probes, taken as arrays and checked together (nothing of the
        batch leaves if one is out of scope), hashed in one call, written and sent."""
        positions, dests, ports = self.it.take(n)
        j = len(positions)
        if j < n:
            self.exhausted = True
        if not j:
            return 0
        last = self.last_pos
        first = int(positions[0])
        if first <= last:
            raise ValueError(f"probe positions must increase: {first} after {last}")
        if j > 1:
            back = positions[1:] <= positions[:-1]
            if back.any():
                k = int(np.argmax(back))
                raise ValueError(f"probe positions must increase: {positions[k + 1]} after "
                                 f"{positions[k]}")
        self._guard(dests)  # the hard guard: never a packet outside scope
        self.last_pos = last = int(positions[-1])
        self.progress.pulled(last)
        if not self.src:
            self._start(_ntoa(int(dests[0])))
        self._write(positions, dests, ports)
        self.progress.add(first)  # batch keys are added in increasing order
        b = _Batch(first, j, self.loop.time() + self.timeout)
        if self.retries > 0:
            b.group = g = _Group(first, j, _offsets(positions), dests.copy(), ports.copy())
            self.gfirst.append(first)
            self.groups.append(g)
        self._queue(b)
        self._transmit(0, j)
        return j

    def _guard(self, dests: npt.NDArray[np.uint32]) -> None:
        """OutOfScope unless every address of ``dests`` lies in an allowed interval (one
        interval: its bounds against the batch's least and greatest address)."""
        starts, ends = self.starts, self.ends
        if len(starts) == 1:
            if int(dests.min()) >= starts[0] and int(dests.max()) <= ends[0]:
                return
            bad = (dests < starts[0]) | (dests > ends[0])
        elif not starts:
            bad = np.ones(len(dests), np.bool_)
        else:
            i = np.searchsorted(self.g_starts, dests, "right") - 1
            bad = (i < 0) | (dests > self.g_ends[i])
        if bad.any():
            ip = _ntoa(int(dests[int(np.argmax(bad))]))
            raise OutOfScope(f"refusing to send a SYN to {ip}: outside the allow list")

    def _write(self, positions: npt.NDArray[np.int64], dests: npt.NDArray[np.uint32],
               ports: npt.NDArray[np.uint16]) -> None:
        """Write SYNs to ``(dests[k], ports[k])`` for ``positions[k]`` into slots 0.. of
        the batch buffer, hashing them first: the first send and a retransmission of a
        probe are the same packet. Only what varies is written (destination, ports,
        sequence number, checksum); the rest of each slot was written at the start."""
        n = len(dests)
        th = self.hash
        th.put_many(dests, ports)
        h = th.hashes(n)
        sport = (h >> 52) % self.owner.sport_span + self.owner.sport_lo
        seq = (positions.astype(np.uint64) + h) & _M32
        # the one's complement sum, as a sum modulo 0xFFFF (a folded 0xFFFF is 0)
        c = (dests.astype(np.uint64) + sport + ports + seq + self.const) % 0xFFFF
        slots = self.slots[:n]
        slots["dst"] = dests
        slots["sport"] = sport
        slots["dport"] = ports
        slots["seq"] = seq
        slots["sum"] = (0xFFFF - c) % 0xFFFF
        self.sockaddrs["addr"][:n] = dests

    def _send_retry(self, n: int) -> int:
        """Re-send, up to ``n`` of them, the silent probes of the oldest batch due: each
        rebuilt from the address, port and position its first send was written from.
        Not checked against the allow list again: those addresses are the ones the
        first send checked, kept since in the batch's arrays, which nothing else
        writes. Picking the slots and gathering their inputs are array operations."""
        b = self.resend[0]
        g = b.group
        assert g is not None
        i, end = b.cursor, b.end
        # the silent slots from the cursor on, at most n of them
        slots = np.flatnonzero(np.frombuffer(g.answered, np.uint8)[i:end] == 0)[:n] + i
        j = len(slots)
        if j < n:  # the batch's last silent slot is in
            i = end
        elif j:  # n sent: go on after the last next time
            i = int(slots[-1]) + 1
        b.cursor = i
        if j:
            offsets = g.offsets
            if offsets is None:
                positions = slots + g.first
            else:
                offs = np.frombuffer(offsets, _layout().offset_types[offsets.typecode])
                positions = offs[slots].astype(np.int64) + g.first
            self._write(positions, g.dests[slots], g.ports[slots])
            self.stats.retried += j
            g.alive += 1
            self._queue(_Batch(b.first, b.count, self.loop.time() + self.timeout,
                               b.attempt + 1, g, int(slots[0]), i))
            self._transmit(0, j)
        if i >= end:
            self.resend.popleft()
            self._release(b)
        return j

    def _queue(self, b: _Batch) -> None:
        self.inflight.append(b)
        if self.expire_timer is None:
            self.expire_timer = self.loop.call_at(b.deadline, self._on_expire_timer)

    # -- replies -------------------------------------------------------------------

    def _on_readable(self) -> None:
        self.drain()
        self._wake()

    def drain(self) -> None:
        """Read every reply queued: validate, count, collect the opens. Each batch read
        is parsed as arrays (a reply with IP options alone, in Python), hashed in one
        call, checked as arrays; only SYN-ACKs are looked at one by one."""
        rx = self.rx
        replies, lengths = self.replies, self.lengths
        ring = rx.frames > 0  # a ring's read stops at its end: read until none is ready
        st = self.stats
        n = 0
        while True:
            start, k = rx.read(np)
            if not k:
                break
            n += k
            got = lengths[start:start + k]
            rows = replies[start:start + k]
            plain = (rows["vihl"] == 0x45) & (got >= 34)
            st.invalid += int(np.count_nonzero(got < 34))
            fields = [rows[f][plain] for f in ("sip", "sport", "dport", "ack", "flags")]
            odd = np.flatnonzero(~plain & (got >= 34))
            if len(odd):
                fields = self._with_options(odd + start, lengths, fields)
            rx.release(start, k)  # (fields are copies)
            if len(fields[0]):
                self._check(*fields)
            if k < rx.size and not ring:
                break
        st.received += n

    def _with_options(self, odd: npt.NDArray[np.intp], got: npt.NDArray[np.uint32],
                      fields: list[Any]) -> list[Any]:
        """``fields`` and those of the replies ``odd`` (not a plain 20-byte IPv4 header:
        the TCP header read where the header length says)."""
        buf, stride, net = self.rx.packets, self.rx.stride, self.rx.net
        extra: list[tuple[int, ...]] = []
        for k in odd.tolist():
            off = k * stride + net
            vihl = buf[off]
            ihl = (vihl & 15) * 4
            if vihl >> 4 != 4 or ihl < 20 or int(got[k]) < ihl + 14:
                self.stats.invalid += 1
                continue
            sport, dport, _seq, ack, flags = _TCP.unpack_from(buf, off + ihl)
            extra.append((_REPLY_IP.unpack_from(buf, off + 12)[0], sport, dport, ack, flags))
        if not extra:
            return fields
        cols = list(zip(*extra, strict=True))
        return [np.concatenate([f, np.array(c, f.dtype)]) for f, c in zip(fields, cols,
                                                                          strict=True)]

    def _check(self, sip: Any, sport: Any, dport: Any, ack: Any, flags: Any) -> None:
        """Replies as arrays: believe those H vouches for (source port and ack), count
        the RSTs (once a probe), hand the SYN-ACKs to ``_opened``."""
        st = self.stats
        m = len(sip)
        th = self.hash
        th.put_many(sip, sport)
        h = th.hashes(m)
        lo, span = self.owner.sport_lo, self.owner.sport_span
        last = self.last_pos
        ours = (dport == (h >> 52) % span + lo) & ((flags & raw.ACK) != 0)
        back = ((ack.astype(np.uint64) - 1 - h) & _M32).astype(np.int64)
        pos = last - ((last - back) & _M32)
        ours &= pos >= self.progress.value  # below: stale (a finished batch), or not ours
        rst = ours & ((flags & raw.RST) != 0)
        syn = ours & ~rst & ((flags & raw.SYN) != 0)
        n_rst = int(np.count_nonzero(rst))
        bad = m - n_rst - int(np.count_nonzero(syn))
        if n_rst:
            if self.retries > 0:
                closed, dup, stray = self._answered(pos[rst])
                st.closed += closed
                st.duplicate += dup
                bad += stray
            else:
                st.closed += n_rst
        for k in np.flatnonzero(syn).tolist():
            if not self._opened(int(pos[k]), _ntoa(int(sip[k])), int(sport[k])):
                bad += 1
        st.invalid += bad

    def _answered(self, rpos: npt.NDArray[np.int64]) -> tuple[int, int, int]:
        """RSTs to positions ``rpos``: mark their probes answered (no retransmission).
        (closed, duplicate, invalid): invalid for a position of a finished batch or one
        its batch skipped."""
        ghead, groups = self.ghead, self.groups
        gfirst = np.array(self.gfirst[ghead:], np.int64)
        if not len(gfirst):
            return 0, 0, len(rpos)
        which = np.searchsorted(gfirst, rpos, "right") - 1
        found = which >= 0
        bad = len(rpos) - int(np.count_nonzero(found))
        closed = dup = 0
        for k in np.flatnonzero(np.bincount(which[found])).tolist():  # the batches hit
            g = groups[ghead + k]
            mine = rpos[which == k]
            if g.alive <= 0:
                bad += len(mine)
                continue
            off = mine - g.first
            if g.offsets is None:
                slots = off[off < g.count]
            else:
                offs = np.frombuffer(g.offsets, _layout().offset_types[g.offsets.typecode])
                at = np.minimum(np.searchsorted(offs, off), g.count - 1)
                slots = at[offs[at] == off]
            bad += len(mine) - len(slots)
            answered = np.frombuffer(g.answered, np.uint8)
            fresh = answered[slots] == 0
            if len(slots) > 1 and not (slots[1:] > slots[:-1]).all():  # not in send order
                order = np.argsort(slots, kind="stable")
                slots, fresh = slots[order], fresh[order]
                fresh[1:] &= slots[1:] != slots[:-1]  # an answer repeated: counted once
            answered[slots] = 1
            new = int(np.count_nonzero(fresh))
            g.silent -= new
            closed += new
            dup += len(slots) - new
        return closed, dup, bad

    def _opened(self, pos: int, ip: str, port: int) -> bool:
        """A SYN-ACK that decoded to ``pos``: open if the probe there went to exactly
        this address and port (False: not ours)."""
        ep = self.locate(pos)
        if ep is None or ep.ip != ip or ep.port != port:
            return False
        if pos in self.opened:
            self.stats.duplicate += 1
            return True
        self.opened.add(pos)
        if self.retries:
            k = bisect_right(self.gfirst, pos, self.ghead) - 1
            if k >= self.ghead:
                g = self.groups[k]
                slot = g.slot(pos)
                if slot >= 0 and g.alive > 0 and not g.answered[slot]:
                    g.answered[slot] = 1
                    g.silent -= 1
        self.stats.open += 1
        self.unyielded[pos] = None
        self.opens.append((pos, ep))
        return True

    async def wait(self) -> None:
        """Wait for a reply, a timer or a token, and never longer than a heartbeat: a
        missed wake-up costs a quarter of a second, not the scan.

        The receiver is watched only while we wait: a socket in the loop's epoll set
        wakes it (``sock_def_readable``, epoll's callback and its locks) for every reply
        queued, work the kernel does in the sending thread's softirq, per packet, when
        we drain after every send anyway."""
        if self.inflight and self._all_answered(self.inflight[0]):
            return  # (answered while we sent) finished now, by ``expire``
        beat = self.loop.call_later(_HEARTBEAT, self._wake)
        fd = self.receiver.fileno()
        if self.listening:
            self.loop.add_reader(fd, self._on_readable)
            self.reading = True
        try:  # (level-triggered: replies queued before this wake it at once)
            await super().wait()
        finally:
            beat.cancel()
            if self.reading:
                self.loop.remove_reader(fd)
                self.reading = False

    # -- finishing -------------------------------------------------------------------

    def _on_expire_timer(self) -> None:
        self.expire_timer = None
        self._wake()

    def expire(self) -> None:
        """Batches past their deadline: re-send the silent probes, or finish them. A
        batch every probe of which has answered (known with retries: its answered
        bytes) is finished at once, deadline or not: nothing more can come of it but
        repeats, so neither the watermark nor the end of the scan waits its cooldown."""
        inflight = self.inflight
        if not inflight:
            return
        now = self.loop.time()
        if inflight[0].deadline <= now:
            self.drain()  # the last word of every reply that came in time
            while inflight and inflight[0].deadline <= now:
                b = inflight.popleft()
                if b.attempt < self.retries and not self._all_answered(b):
                    self.resend.append(b)
                else:
                    self._release(b)
        while inflight and self._all_answered(inflight[0]):
            self._release(inflight.popleft())
        # the timer may have been armed for a batch a pass of the run loop expired
        # before it fired (it then fires for nothing): always leave one armed
        if inflight and self.expire_timer is None:
            self.expire_timer = self.loop.call_at(inflight[0].deadline, self._on_expire_timer)

    @staticmethod
    def _all_answered(b: _Batch) -> bool:
        g = b.group
        return g is not None and g.silent <= 0

    def _release(self, b: _Batch) -> None:
        """One send of a batch is over; the batch is finished with its last."""
        g = b.group
        if g is None:
            self._retire(b)
            return
        g.alive -= 1
        if g.alive <= 0:
            g.answered = bytearray()
            g.dests, g.ports = _layout().no_dests, _layout().no_ports
            groups = self.groups
            head = self.ghead
            while head < len(groups) and groups[head].alive <= 0:
                head += 1
            if head >= 256 and 2 * head >= len(groups):
                del groups[:head]
                del self.gfirst[:head]
                head = 0
            self.ghead = head
            self._retire(b)

    def _retire(self, b: _Batch) -> None:
        self.stats.done += b.count
        self.progress.done(b.first)
        if self.opened:
            low = self.progress.value
            self.opened = {p for p in self.opened if p >= low}

    def close(self) -> None:
        for t in (self.pump_timer, self.expire_timer):
            if t is not None:
                t.cancel()
        if self.reading:
            self.loop.remove_reader(self.receiver.fileno())
            self.reading = False
        self.out.close()
        with contextlib.suppress(OSError):
            self.stats.dropped += self.rx.drops()
        if hasattr(self, "replies"):  # views of the ring: gone before it
            del self.replies, self.lengths
        self.rx.close()
        self.receiver.close()
        self.sender.close()
        self.inflight.clear()
        self.resend.clear()
        self.groups.clear()
        self.gfirst.clear()
        self.ghead = 0
