"""The raw-socket plumbing of SYN discovery (Linux): a send-only raw IPv4 socket with
batched sends (``sendmmsg(2)`` through ctypes, from one thread per CPU; plain ``sendto``
where libc lacks it), and a packet socket whose classic BPF program lets the kernel drop
every packet that is not a reply to us before Python ever sees it, read from a ring
shared with the kernel (``PACKET_RX_RING``) or in batches (``recvmmsg(2)``).

Nothing here knows about scans: the caller hands over packets it built and checked.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import math
import mmap
import os
import platform
import queue
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any, cast

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
PACKET_OUTGOING = 4
SOL_PACKET = getattr(socket, "SOL_PACKET", 263)
PACKET_IGNORE_OUTGOING = 23
PACKET_STATISTICS = 6
_SKF_AD_PKTTYPE = -0x1000 + 4  # SKF_AD_OFF + SKF_AD_PKTTYPE: the skb's pkt_type
SNAPLEN = 96  # IP header (up to 60 bytes) and the 20-byte TCP header we read
PACKET = 40  # a 20-byte IPv4 header + a 20-byte TCP header, no options

# TCP flags
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class RawSocketDenied(PermissionError, ValueError):
    """No right to open raw sockets (CAP_NET_RAW): SYN discovery cannot run here."""


DENIED = ("--syn needs raw-socket rights (CAP_NET_RAW: run as root, or give the "
          "interpreter cap_net_raw+ep); --connect scans without them")


def open_sender() -> socket.socket:
    """A send-only raw IPv4 socket (IPPROTO_RAW: we write the IP header, and the kernel
    queues nothing to it — a plain IPPROTO_TCP raw socket gets a copy of every TCP
    packet the host receives, which costs on every probe)."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError as exc:
        raise RawSocketDenied(DENIED) from exc
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def open_receiver() -> socket.socket:
    """A packet socket that receives nothing yet: protocol 0 until ``listen`` binds it,
    so no unfiltered packet is queued before the filter is attached."""
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    except PermissionError as exc:
        raise RawSocketDenied(DENIED) from exc


def check_rights() -> None:
    """Raise RawSocketDenied unless both raw sockets open (the real test: capabilities,
    seccomp and LSMs all have their say)."""
    open_sender().close()
    open_receiver().close()


def reply_filter(our_ip: int, port_lo: int, port_hi: int) -> bytes:
    """Classic BPF over the network header (SOCK_DGRAM packet socket): accept IPv4 TCP,
    unfragmented, not our own outgoing copy, to ``our_ip``, to a destination port in
    ``[port_lo, port_hi]``, with SYN+ACK or RST set; everything else stays in the kernel."""
    ld, ldh, ldb, ldx_msh = 0x20, 0x28, 0x30, 0xB1
    ldh_x, ldb_x = 0x48, 0x50
    jeq, jge, jgt, jset = 0x15, 0x35, 0x25, 0x45
    and_k, ret = 0x54, 0x06
    prog = [
        (ld, 0, 0, _SKF_AD_PKTTYPE & 0xFFFFFFFF),  # 0
        (jeq, 14, 0, PACKET_OUTGOING),              # 1: our own copy (loopback) -> drop
        (ldb, 0, 0, 9),                             # 2: protocol
        (jeq, 0, 12, socket.IPPROTO_TCP),           # 3
        (ld, 0, 0, 16),                             # 4: destination address
        (jeq, 0, 10, our_ip),                       # 5
        (ldh, 0, 0, 6),                             # 6: flags + fragment offset
        (jset, 8, 0, 0x1FFF),                       # 7: a fragment -> drop
        (ldx_msh, 0, 0, 0),                         # 8: X = IP header length
        (ldh_x, 0, 0, 2),                           # 9: TCP destination port
        (jge, 0, 5, port_lo),                       # 10
        (jgt, 4, 0, port_hi),                       # 11
        (ldb_x, 0, 0, 13),                          # 12: TCP flags
        (and_k, 0, 0, SYN | RST | ACK),             # 13
        (jset, 0, 1, RST | SYN),                    # 14: SYN(+ACK) or RST -> keep
        (ret, 0, 0, SNAPLEN),                       # 15
        (ret, 0, 0, 0),                             # 16: drop
    ]
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


def listen(sock: socket.socket, our_ip: int, port_lo: int, port_hi: int,
           rcvbuf: int = 64 << 20) -> None:
    """Attach the reply filter, then bind to the interface the replies come in on
    (``lo`` for a loopback source, all interfaces otherwise)."""
    prog = reply_filter(our_ip, port_lo, port_hi)
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HL", len(prog) // 8, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    try:  # root may go past net.core.rmem_max without changing the sysctl
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    # Linux 4.20+: our own outgoing packets are not even cloned for this socket (older
    # kernels refuse the option: the filter's first test drops them)
    with contextlib.suppress(OSError):
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    iface = "lo" if our_ip >> 24 == 127 else ""
    sock.bind((iface, ETH_P_IP))
    sock.setblocking(False)


def source_address(dst: str) -> str:
    """The address the kernel would send from to ``dst`` (a connected UDP socket's name:
    a route lookup, no packet sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((dst, 9))
        return str(s.getsockname()[0])


# -- batched sending -----------------------------------------------------------------


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", _Msghdr), ("len", ctypes.c_uint)]


def _libc(name: str, argtypes: list[type]) -> Callable[..., int] | None:
    """libc's ``sendmmsg``/``recvmmsg`` (Python's socket module has neither); None
    without them, or with NETATLAS_NO_MMSG set (then one syscall per packet)."""
    if os.environ.get("NETATLAS_NO_MMSG"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = getattr(libc, name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = argtypes
    fn.restype = ctypes.c_int
    return fn


_SENDMMSG = _libc("sendmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int])
_RECVMMSG = _libc("recvmmsg", [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                               ctypes.c_void_p])
_MSG_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0x40)
_MSGLEN = struct.Struct("56xI4x")  # struct mmsghdr: msghdr (56 bytes), msg_len, padding
_SOCKADDR_IN = 16
_MMSG_SIZE = ctypes.sizeof(_Mmsghdr)


class _Helper:
    """A thread that sends slot ranges it is handed (``sendmmsg`` releases the GIL, so
    it runs beside the caller's own ``sendmmsg`` on another CPU). On loopback most of a
    probe's cost is kernel work done in the sending thread (the target's SYN-ACK or RST,
    our kernel's RST, the reply's capture, all in softirq there): sending from two
    threads spreads it over two CPUs."""

    def __init__(self, send: Callable[[int, int, int], int]) -> None:
        self.jobs: queue.SimpleQueue[tuple[int, int, int] | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[int | BaseException] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, args=(send,), daemon=True,
                                       name="netatlas-syn-send")
        self.thread.start()

    def _run(self, send: Callable[[int, int, int], int]) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                self.done.put(send(*job))
            except BaseException as exc:  # handed to the caller, raised there
                self.done.put(exc)

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join()


def sender_threads() -> int:
    """How many threads a batch is sent from: the CPUs this process may run on, at most
    ``MAX_SENDERS`` (NETATLAS_SYN_SENDERS overrides)."""
    given = os.environ.get("NETATLAS_SYN_SENDERS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_SENDERS))


MAX_SENDERS = 4
MIN_PIECE = 256  # slots a thread sends at least: below, a hand-off costs more than it saves


class BatchSender:
    """``size`` packet slots of PACKET bytes and their destination addresses, written in
    place by the caller (``packets`` and ``addrs`` are writable buffers) and sent with
    one ``sendmmsg`` call per ``send`` (or one ``sendto`` each without it) — split over
    ``threads`` threads (the caller's and helpers) when the range is large enough."""

    def __init__(self, sock: socket.socket, size: int, threads: int = 1) -> None:
        self.sock = sock
        self.size = size
        self._packets = (ctypes.c_char * (PACKET * size))()
        self._addrs = (ctypes.c_char * (_SOCKADDR_IN * size))()
        self.packets = memoryview(self._packets).cast("B")  # slot j at PACKET * j
        self.addrs = memoryview(self._addrs).cast("B")  # slot j at 16 * j
        fam = struct.pack("=H", socket.AF_INET)
        for j in range(size):  # sockaddr_in: family, port 0, address (written per send)
            self.addrs[j * _SOCKADDR_IN:j * _SOCKADDR_IN + 2] = fam
        self.mmsg = _SENDMMSG
        self._msgs = (_Mmsghdr * size)()
        self._iovs = (_Iovec * size)()
        pbase, abase = ctypes.addressof(self._packets), ctypes.addressof(self._addrs)
        for j in range(size):
            self._iovs[j].base = pbase + PACKET * j
            self._iovs[j].len = PACKET
            h = self._msgs[j].hdr
            h.name = abase + _SOCKADDR_IN * j
            h.namelen = _SOCKADDR_IN
            h.iov = ctypes.addressof(self._iovs[j])
            h.iovlen = 1
        self._msg_base = ctypes.addressof(self._msgs)
        n = min(threads, size // MIN_PIECE) if self.mmsg is not None else 1
        self._helpers = [_Helper(self._send_range) for _ in range(n - 1)]

    def close(self) -> None:
        """Stop the helper threads."""
        helpers, self._helpers = self._helpers, []
        for h in helpers:
            h.close()

    def _send_range(self, fd: int, start: int, end: int) -> int:
        """``sendmmsg`` slots ``[start, end)`` until done or a local shortage (EAGAIN,
        ENOBUFS); how many went (other errors raise)."""
        mmsg = self.mmsg
        assert mmsg is not None
        sent = start
        while sent < end:
            n = mmsg(fd, self._msg_base + _MMSG_SIZE * sent, end - sent, 0)
            if n < 0:
                err = ctypes.get_errno()
                if err == errno.EINTR:
                    continue
                if err in (errno.EAGAIN, errno.ENOBUFS):
                    break
                raise OSError(err, os.strerror(err))
            sent += n
        return sent - start

    def send(self, start: int, end: int) -> int:
        """Send slots ``[start, end)``; return how many went (fewer on a local shortage:
        EAGAIN/ENOBUFS; other errors raise). Slots not sent are then the last ones,
        ``[start + sent, end)``, whichever thread fell short."""
        fd = self.sock.fileno()
        if self.mmsg is not None:
            pieces = min(len(self._helpers) + 1, (end - start) // MIN_PIECE)
            if pieces <= 1:
                return self._send_range(fd, start, end)
            step = (end - start) // pieces
            cuts = [start + k * step for k in range(pieces)] + [end]
            helpers = self._helpers[:pieces - 1]
            for k, h in enumerate(helpers, 1):
                h.jobs.put((fd, cuts[k], cuts[k + 1]))
            got: list[int | BaseException] = []
            try:
                got.append(self._send_range(fd, cuts[0], cuts[1]))
            except OSError as exc:
                got.append(exc)
            got += [h.done.get() for h in helpers]  # every helper answers, error or not
            for g in got:
                if isinstance(g, BaseException):
                    raise g
            counts = cast(list[int], got)
            short = [(cuts[k] + c, cuts[k + 1]) for k, c in enumerate(counts)
                     if cuts[k] + c < cuts[k + 1]]
            if short:
                self._to_tail(short, end)
            return sum(counts)
        view = self.packets
        sendto = self.sock.sendto
        for j in range(start, end):
            off = PACKET * j
            dst = socket.inet_ntoa(bytes(view[off + 16:off + 20]))
            try:
                sendto(view[off:off + PACKET], (dst, 0))
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.ENOBUFS):
                    return j - start
                raise
        return end - start

    def _to_tail(self, ranges: list[tuple[int, int]], end: int) -> None:
        """Move the slots of ``ranges`` (in order, the ones a shortage left unsent) to
        the end of the sent range, ``[end - total, end)``: what the caller re-sends.
        Rare (a local shortage), so plain copies."""
        pkts = b"".join(bytes(self.packets[PACKET * a:PACKET * b]) for a, b in ranges)
        addrs = b"".join(bytes(self.addrs[_SOCKADDR_IN * a:_SOCKADDR_IN * b])
                         for a, b in ranges)
        first = end - sum(b - a for a, b in ranges)
        self.packets[PACKET * first:PACKET * end] = pkts
        self.addrs[_SOCKADDR_IN * first:_SOCKADDR_IN * end] = addrs


class BatchReceiver:
    """Up to ``size`` packets (SNAPLEN bytes each, slot k at SNAPLEN * k of ``packets``)
    per ``recvmmsg`` call; one ``recv_into`` per packet without it."""

    def __init__(self, sock: socket.socket, size: int) -> None:
        self.sock = sock
        self.mmsg = _RECVMMSG
        self.size = size if self.mmsg is not None else 1
        self._packets = (ctypes.c_char * (SNAPLEN * self.size))()
        self.packets = memoryview(self._packets).cast("B")
        self._msgs = (_Mmsghdr * self.size)()
        self._iovs = (_Iovec * self.size)()
        base = ctypes.addressof(self._packets)
        for k in range(self.size):
            self._iovs[k].base = base + SNAPLEN * k
            self._iovs[k].len = SNAPLEN
            self._msgs[k].hdr.iov = ctypes.addressof(self._iovs[k])
            self._msgs[k].hdr.iovlen = 1
        self._msg_base = ctypes.addressof(self._msgs)
        self._lens = memoryview(self._msgs).cast("B")

    def recv_count(self) -> int:
        """Read the packets queued now, up to ``size``: how many (0: none). Packet k's
        length is the ``msg_len`` of message k (``lengths`` is the messages' buffer:
        ``struct mmsghdr``, 64 bytes each, msg_len at offset 56), so a caller reads
        them all at once."""
        if self.mmsg is None:
            try:
                self._msgs[0].len = self.sock.recv_into(self.packets)
            except (BlockingIOError, InterruptedError):
                return 0
            return 1
        while True:
            n = self.mmsg(self.sock.fileno(), self._msg_base, self.size, _MSG_DONTWAIT, None)
            if n >= 0:
                return n
            err = ctypes.get_errno()
            if err in (errno.EAGAIN, errno.EINTR):
                return 0
            raise OSError(err, os.strerror(err))

    @property
    def lengths(self) -> memoryview:
        return self._lens

    # what RingReceiver offers too: packet k at ``stride * k + net`` of ``packets``
    stride = SNAPLEN
    net = 0
    frames = 0  # (a ring's size; none here)

    def read(self, np: Any) -> tuple[int, int]:
        """(0, how many were read now): the packets are at the buffer's start."""
        return 0, self.recv_count()

    def release(self, start: int, count: int) -> None:
        """Nothing to hand back: the next read overwrites the buffer."""

    def drops(self) -> int:
        """Replies the kernel dropped since the last call (the receive buffer was full)."""
        got = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        return int(struct.unpack("II", got)[1])

    def close(self) -> None:
        """Nothing to release."""

    def recv(self) -> list[int]:
        """The lengths of the packets read now (empty: none queued)."""
        n = self.recv_count()
        return [length for (length,) in _MSGLEN.iter_unpack(self._lens[:64 * n])]


# -- a receive ring (PACKET_RX_RING, TPACKET_V2) ---------------------------------------

PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1
FRAME = 192  # a frame: tpacket2_hdr (32) + sockaddr_ll, the packet at NET (80) on:
# 112 bytes, SNAPLEN's 96 fit
NET = 80  # TPACKET_ALIGN(TPACKET2_HDRLEN + 16) for a SOCK_DGRAM socket, no reserve
# 6 MiB: room for a burst of 32,768 replies while the loop does not read (a ring of
# 8,192 dropped 12 of a test's 8,204 back-to-back forgeries)
RING_FRAMES = 32768
# a block: whole pages and whole frames (the kernel maps blocks end to end, so frame k
# is at FRAME * k)
_BLOCK = FRAME * mmap.PAGESIZE // math.gcd(FRAME, mmap.PAGESIZE)


def ring_supported() -> bool:
    """The ring is read and handed back with plain loads and stores, which x86's memory
    order keeps in program order; elsewhere (and with NETATLAS_NO_RING) ``recvmmsg``."""
    return (platform.machine() in ("x86_64", "AMD64", "i686", "i386")
            and not os.environ.get("NETATLAS_NO_RING"))


class RingReceiver:
    """The replies the kernel wrote into a ring of ``frames`` FRAME-byte slots shared
    with it (``PACKET_RX_RING``): read with no system call and no copy but the kernel's
    one into the ring — against a ``recvmmsg`` that dequeues, copies and frees an skb
    per reply (10 % of a loopback scan's CPU). ``read()`` gives the run of frames ready
    from the head, ``release()`` hands them back (the kernel drops replies while the
    ring is full, as it does past a full receive buffer). The packet of frame k is at
    ``FRAME * k + NET`` of ``packets``; its captured length is the frame header's
    ``tp_snaplen`` (``lengths``)."""

    stride = FRAME
    net = NET

    def __init__(self, sock: socket.socket, frames: int = RING_FRAMES,
                 size: int = 1024) -> None:
        per_block = _BLOCK // FRAME
        blocks = max(1, -(-frames // per_block))
        self.frames = blocks * per_block
        self.size = size
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        # struct tpacket_req: block size, block count, frame size, frame count
        req = struct.pack("IIII", _BLOCK, blocks, FRAME, self.frames)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        self.map = mmap.mmap(sock.fileno(), _BLOCK * blocks, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        self.packets = memoryview(self.map)
        self.sock = sock
        self.head = 0
        self._status: Any = None  # numpy views, built at the first read (numpy)
        self._lengths: Any = None

    def views(self, np: Any) -> tuple[Any, Any]:
        """(tp_status, tp_snaplen) of every frame, as numpy uint32 views."""
        if self._status is None:
            words = np.frombuffer(self.map, np.uint32).reshape(self.frames, FRAME // 4)
            self._status, self._lengths = words[:, 0], words[:, 2]
        return self._status, self._lengths

    def read(self, np: Any) -> tuple[int, int]:
        """(first frame, count) of the frames ready from the head, at most ``size`` and
        not past the ring's end (the next read goes on from frame 0)."""
        status, _ = self.views(np)
        head = self.head
        window = status[head:min(head + self.size, self.frames)] & TP_STATUS_USER
        k = len(window) if window.all() else int(np.argmin(window))
        return head, k

    def release(self, start: int, count: int) -> None:
        """Hand frames ``[start, start + count)`` back to the kernel (after their
        fields were copied out), and move the head past them."""
        if count:
            self._status[start:start + count] = 0
            self.head = (start + count) % self.frames

    def drops(self) -> int:
        """Replies the kernel dropped since the last call (the ring was full)."""
        got = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        return int(struct.unpack("II", got)[1])

    def close(self) -> None:
        """Unmap the ring, unless numpy views of it are still alive (then it goes with
        the last of them)."""
        self._status = self._lengths = None
        with contextlib.suppress(BufferError):
            self.packets.release()
            self.map.close()
