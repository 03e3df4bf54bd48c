"""SynDiscoverer on loopback as root: raw SYNs out, kernel-filtered replies in.

Every packet these tests send goes to 127.0.0.0/8 (asserted per probe), never to port
2024 (someone else's on every loopback address). Listeners live on 127.20.80.x.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from netatlas.discover import Discoverer, RawSocketDenied, SynDiscoverer, _syn
from netatlas.discover import _rawnet as raw
from netatlas.model import Endpoint
from netatlas.scope import (
    OutOfScope,
    Permutation,
    Scope,
    TargetSpace,
    exclude_ports,
    iter_endpoints,
    parse_ports,
    parse_targets,
)
from netatlas.scope.batches import Batch, ProbeBatches

from .conftest import FORBIDDEN_PORT, free_port

NET = "127.20.80.0/24"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root")


def _loopback_only(probes: Iterator[tuple[int, Endpoint]]) -> Iterator[tuple[int, Endpoint]]:
    """Defence in depth for these tests: every probe is loopback and never port 2024."""
    for pos, ep in probes:
        assert ipaddress.ip_address(ep.ip) in LOOPBACK, ep
        assert ep.port != FORBIDDEN_PORT, ep
        yield pos, ep


class Plan:
    """targets x ports - 2024, with the scope, permutation and locate of a real scan."""

    def __init__(self, targets: list[str], ports: str, allow: list[str] | None = None,
                 seed: int = 7) -> None:
        self.scope = Scope(allow or [NET])
        pset = exclude_ports(parse_ports(ports), str(FORBIDDEN_PORT))
        self.space = TargetSpace(parse_targets(targets, resolve=False), pset, self.scope)
        self.perm = Permutation(self.space.size, seed=seed)

    def probes(self) -> Iterator[tuple[int, Endpoint]]:
        return _loopback_only(iter_endpoints(self.space, self.perm, 0))

    def batches(self, position: int = 0) -> ProbeBatches:
        return self.space.batches(self.perm, position)

    def locate(self, pos: int) -> Endpoint | None:
        return self.space.at(self.perm, pos)

    def syn(self, **kw: object) -> SynDiscoverer:
        return SynDiscoverer(self.locate, self.scope.permitted_intervals(4), **kw)  # type: ignore[arg-type]


async def _found(d: SynDiscoverer | Discoverer,
                 probes: Iterator[tuple[int, Endpoint]]) -> set[Endpoint]:
    return {ep async for _, ep in d.run(probes)}


@pytest.fixture
def listening() -> Iterator[list[Endpoint]]:
    """Plain listeners on 127.20.80.10-13: fixed well-known ports and ephemeral ones."""
    socks, eps = [], []
    for ip, port in (("127.20.80.10", 22), ("127.20.80.10", 80), ("127.20.80.11", 443),
                     ("127.20.80.12", 8080), ("127.20.80.13", 0), ("127.20.80.13", 0)):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            s.close()
            continue
        if s.getsockname()[1] == FORBIDDEN_PORT:  # pragma: no cover
            s.close()
            continue
        s.listen(64)
        socks.append(s)
        eps.append(Endpoint(ip, s.getsockname()[1]))
    yield eps
    for s in socks:
        s.close()


class PacketCounter:
    """A packet socket on lo counting every IPv4 TCP packet to ``net`` (a thread reads
    it): the witness that nothing was sent somewhere."""

    def __init__(self, net: str, dport: int | None = None) -> None:
        self.net = ipaddress.ip_network(net)
        self.dport = dport
        self.seen: list[tuple[str, int, int, int]] = []  # (dst, dport, flags, sport)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                  socket.htons(raw.ETH_P_IP))
        self.sock.bind(("lo", raw.ETH_P_IP))
        self._stop = False
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        while not self._stop:
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            data, addr = self.sock.recvfrom(256)
            if addr[2] == raw.PACKET_OUTGOING or len(data) < 40 or data[9] != 6:
                continue  # count each loopback packet once
            dst = socket.inet_ntoa(data[16:20])
            ihl = (data[0] & 15) * 4
            sport, dport = struct.unpack_from("!HH", data, ihl)
            if ipaddress.ip_address(dst) in self.net and self.dport in (None, dport):
                self.seen.append((dst, dport, data[ihl + 13], sport))

    def close(self) -> list[tuple[str, int, int, int]]:
        time.sleep(0.2)
        self._stop = True
        self._t.join()
        self.sock.close()
        return self.seen


# -- agreement with the connect scan -------------------------------------------------


def _lab_endpoints() -> list[Endpoint]:
    """The TCP services of the lab that are up (none if it is down)."""
    try:
        from netatlas.lab.lab import Lab

        return [Endpoint(s.ip, s.port) for s in Lab().status()
                if s.running and s.transport == "tcp" and s.port != FORBIDDEN_PORT]
    except Exception:  # pragma: no cover - no lab here
        return []


async def test_finds_exactly_what_connect_finds(listening: list[Endpoint]) -> None:
    extra = ",".join(str(ep.port) for ep in listening)
    plan = Plan(["127.20.80.0/28"], f"1-1024,8080,{extra}")
    syn = plan.syn(timeout=1.0, retries=1)
    by_syn = await _found(syn, plan.probes())
    by_connect = await _found(Discoverer(timeout=1.0, retries=1), plan.probes())
    assert set(listening) <= by_connect
    assert by_syn == by_connect  # precision and recall 1.0
    st = syn.stats
    assert st.open == len(by_syn) and st.invalid == 0
    assert st.closed == plan.space.size - len(by_syn)  # every other port answered RST
    assert st.done == plan.space.size and st.filtered == 0
    assert syn.watermark == plan.perm.steps


async def test_the_lab_as_connect_sees_it() -> None:
    lab = _lab_endpoints()
    if not lab:
        pytest.skip("the lab is not up (netatlas lab up)")
    ips = sorted({ep.ip for ep in lab}, key=ipaddress.ip_address)
    ports = ",".join(str(p) for p in sorted({ep.port for ep in lab}))
    plan = Plan(ips, ports, allow=["127.20.0.0/16"])
    by_syn = await _found(plan.syn(timeout=1.0, retries=1), plan.probes())
    by_connect = await _found(Discoverer(timeout=1.0, retries=1), plan.probes())
    assert by_syn == by_connect
    assert set(lab) <= by_syn


# -- scope ---------------------------------------------------------------------------


async def test_a_destination_outside_the_allow_list_gets_no_packet(
        listening: list[Endpoint]) -> None:
    """The sender's own guard: a probe stream that hands over an address outside the
    allow list stops the run before that batch leaves; a listener there sees nothing."""
    outside = socket.socket()
    outside.bind(("127.20.81.5", 0))
    outside.listen(8)
    port = outside.getsockname()[1]
    assert port != FORBIDDEN_PORT
    inside = [Endpoint(ep.ip, ep.port) for ep in listening[:2]]
    stream = [*((i, ep) for i, ep in enumerate(inside)),
              (len(inside), Endpoint("127.20.81.5", port))]
    counter = PacketCounter("127.20.81.0/24")
    try:
        d = SynDiscoverer(lambda pos: stream[pos][1] if pos < len(stream) else None,
                          Scope([NET]).permitted_intervals(4), timeout=0.3)
        with pytest.raises(OutOfScope, match=r"127\.20\.81\.5"):
            await _found(d, _loopback_only(iter(stream)))
    finally:
        seen = counter.close()
        outside.close()
    assert seen == []
    assert d.stats.sent == 0  # the whole batch was refused, not just the stray


async def test_the_deny_list_is_the_guards_too() -> None:
    scope = Scope([NET], exclude=["127.20.80.128/25"])
    assert scope.permitted_intervals(4) == [(int(ipaddress.ip_address("127.20.80.0")),
                                             int(ipaddress.ip_address("127.20.80.127")))]
    ep = Endpoint("127.20.80.200", free_port("127.20.80.200"))
    d = SynDiscoverer(lambda pos: ep, scope.permitted_intervals(4), timeout=0.2)
    counter = PacketCounter("127.20.80.200/32")
    try:
        with pytest.raises(OutOfScope):
            await _found(d, _loopback_only(iter([(0, ep)])))
    finally:
        assert counter.close() == []


def test_ipv6_is_refused_before_sending() -> None:
    d = SynDiscoverer(lambda pos: None, [(0, 2**32 - 1)], timeout=0.2)
    with pytest.raises(ValueError, match="IPv4 only"):
        asyncio.run(_found(d, iter([(0, Endpoint("::1", 80))])))


# -- forged replies --------------------------------------------------------------------


def _synack(src: str, sport: int, dst: str, dport: int, seq: int, ack: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, raw.SYN | raw.ACK,
                      65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, 20)
    words = struct.unpack("!16H", pseudo + tcp)
    c = sum(words)
    while c >> 16:
        c = (c & 0xFFFF) + (c >> 16)
    tcp = tcp[:16] + struct.pack("!H", ~c & 0xFFFF) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + tcp


def _hash(key: bytes, ip: str, port: int) -> int:
    """H(ip, port) under the run's key, computed here from its definition (AES over the
    block address, port, zeros; the first 8 bytes, native order): what a forger would
    need the key for."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    block = socket.inet_aton(ip) + port.to_bytes(2, "big") + bytes(10)
    return int.from_bytes(enc.update(block)[:8], sys.byteorder)


async def test_forged_synacks_are_not_open(listening: list[Endpoint]) -> None:
    """While the scan waits for replies, a raw sender forges SYN-ACKs from closed
    in-scope ports: to every source port of ours with random acks, and to the right
    source port with near-miss acks. None counts; a forgery with the right ack (which
    needs the run's key) does, which shows it is the check that drops the others."""
    real = listening[0]
    closed = [Endpoint("127.20.80.20", free_port("127.20.80.20")) for _ in range(3)]
    eps = [real, *closed]
    assert all(ep.port != FORBIDDEN_PORT for ep in eps)
    key = os.urandom(32)
    d = SynDiscoverer(lambda pos: eps[pos] if 0 <= pos < len(eps) else None,
                      Scope([NET]).permitted_intervals(4), timeout=1.5, key=key)
    me = raw.source_address(real.ip)
    assert ipaddress.ip_address(me) in LOOPBACK
    sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def forge(ep: Endpoint, sport: int, ack: int) -> None:
        assert ipaddress.ip_address(ep.ip) in LOOPBACK and ep.port != FORBIDDEN_PORT
        sender.sendto(_synack(ep.ip, ep.port, me, sport, 12345, ack), (me, 0))

    forged = 0

    async def forger() -> None:
        nonlocal forged
        await asyncio.sleep(0.3)  # the SYNs are out, the window is open
        rnd = struct.unpack("!4096I", os.urandom(4 * 4096))
        for pos in (1, 2):
            ep = eps[pos]
            for sport in range(40000, 40500):  # not our ports: the kernel's filter
                forge(ep, sport, rnd[sport - 40000])
            for k, sport in enumerate(range(_syn.SPORT_BASE, _syn.SPORT_BASE + 4096)):
                forge(ep, sport, rnd[k])
                forged += 1
            h = _hash(key, ep.ip, ep.port)
            right = _syn.SPORT_BASE + (h >> (64 - _syn.SPORT_BITS))
            seq = (pos + h) & 0xFFFFFFFF
            for delta in (-1, 1, 2, 1 << 16, 1 << 31, 0x12345):
                forge(ep, right, (seq + 1 + delta) & 0xFFFFFFFF)
                forged += 1
        await asyncio.sleep(0.2)
        ep = eps[3]  # the positive control: the right ack, computed with the key
        h = _hash(key, ep.ip, ep.port)
        forge(ep, _syn.SPORT_BASE + (h >> (64 - _syn.SPORT_BITS)), ((3 + h) + 1) & 0xFFFFFFFF)

    try:
        task = asyncio.create_task(forger())
        found = await _found(d, _loopback_only(enumerate(eps)))
        await task
    finally:
        sender.close()
    assert found == {real, eps[3]}  # the real one, and the control forged with the key
    st = d.stats
    assert (st.open, st.closed) == (2, 3)
    # forgeries to ports of our range reach Python (the filter cannot know the key) and
    # fail the check; those to other ports never leave the kernel
    assert st.invalid == 2 * (4096 + 6)
    assert st.received == st.invalid + 5  # + 1 SYN-ACK, 3 RSTs, the control
    assert forged == 2 * (4096 + 6)


# -- retransmissions, cooldown, watermark --------------------------------------------


async def test_silence_is_retried_and_filtered(stalled: Endpoint) -> None:
    """A listener with a full accept queue drops SYNs: the only probe sent again."""
    closed = Endpoint("127.20.240.3", free_port("127.20.240.3"))
    eps = [closed, stalled]
    assert all(ipaddress.ip_address(e.ip) in LOOPBACK for e in eps)
    d = SynDiscoverer(lambda pos: eps[pos] if pos < 2 else None,
                      Scope(["127.20.240.0/24"]).permitted_intervals(4), timeout=0.3,
                      retries=2)
    counter = PacketCounter(f"{stalled.ip}/32", stalled.port)
    try:
        t0 = time.monotonic()
        found = await _found(d, _loopback_only(enumerate(eps)))
        took = time.monotonic() - t0
    finally:
        seen = counter.close()
    assert found == set()
    st = d.stats
    assert (st.closed, st.filtered, st.retried, st.sent) == (1, 1, 2, 4)
    ours = [f for f in seen if f[2] == raw.SYN and f[3] >= _syn.SPORT_BASE]
    assert len(ours) == 3  # first send and two retries (the fixture's own SYNs aside)
    # three waits of 0.3 s, the last one the cooldown (a lower bound: load cannot break
    # it; that they were three is counted above: one send, two retries)
    assert took >= 0.9
    assert d.watermark == 2


async def test_each_silent_probe_is_sent_again_as_the_same_syn(
        monkeypatch: pytest.MonkeyPatch, listening: list[Endpoint]) -> None:
    """Retransmissions are rebuilt from the address, port and position kept for each
    probe (never from ``locate``), not stored: a probe that stays silent is sent exactly
    ``retries`` more times, each byte for byte its first SYN (source port, sequence
    number, checksum); one that answered (RST or SYN-ACK) never again. Silence is made
    by the send stub, which records every packet and lets through (to loopback, never
    port 2024) all but those to the chosen endpoints; several batches, with and without
    gaps in their positions, scattered silent probes and whole silent batches."""
    extra = ",".join(str(ep.port) for ep in listening)
    plan = Plan(["127.20.80.8/29"], f"1-120,{extra}")
    probes = list(plan.probes())
    # whole batches silent too (batches are runs of 64 probes): a contiguous one and one
    # with gaps, re-sent as one run
    chunks = [probes[k:k + 64] for k in range(0, len(probes), 64)]
    whole = [next(c for c in chunks if (c[-1][0] - c[0][0] + 1 == len(c)) is contiguous
                  and not any(ep in listening for _, ep in c))
             for contiguous in (True, False)]
    silent = {ep for k, (_, ep) in enumerate(probes) if k % 7 == 3 and ep not in listening}
    silent |= {ep for c in whole for _, ep in c}
    silent_pos = {pos for pos, ep in probes if ep in silent}
    located: list[int] = []

    def locate(pos: int) -> Endpoint | None:
        located.append(pos)
        return plan.locate(pos)
    sent: dict[Endpoint, list[bytes]] = {}

    def send(self: raw.BatchSender, start: int, end: int) -> int:
        for j in range(start, end):
            pkt = bytes(self.packets[raw.PACKET * j:raw.PACKET * (j + 1)])
            ep = Endpoint(socket.inet_ntoa(pkt[16:20]), struct.unpack_from("!H", pkt, 22)[0])
            assert ipaddress.ip_address(ep.ip) in LOOPBACK and ep.port != FORBIDDEN_PORT
            assert self.addrs[16 * j + 4:16 * j + 8] == pkt[16:20]
            sent.setdefault(ep, []).append(pkt)
            if ep not in silent:
                self.sock.sendto(pkt, (ep.ip, 0))
        return end - start

    kinds: list[bool] = []
    offsets = _syn._offsets

    def spy(positions: array[int]) -> array[int] | None:
        got = offsets(positions)
        kinds.append(got is None)
        return got

    monkeypatch.setattr(raw.BatchSender, "send", send)
    monkeypatch.setattr(_syn, "_offsets", spy)
    d = plan.syn(timeout=0.3, retries=2, batch=64)
    d.locate = locate
    found = await _found(d, iter(probes))
    assert found == set(listening)
    assert not silent_pos & set(located)  # SYN-ACKs are checked with it, nothing else
    assert True in kinds and False in kinds  # contiguous batches and batches with gaps
    assert set(sent) == {ep for _, ep in probes}
    for ep, pkts in sent.items():
        if ep in silent:
            assert len(pkts) == 3 and pkts[1] == pkts[0] and pkts[2] == pkts[0], ep
        else:
            assert len(pkts) == 1, ep
    st = d.stats
    assert (st.open, st.closed, st.filtered) == (len(listening),
                                                 len(probes) - len(listening) - len(silent),
                                                 len(silent))
    assert st.retried == 2 * len(silent) and st.sent == len(probes) + st.retried
    assert st.invalid == 0 and st.done == len(probes)
    assert d.watermark == plan.perm.steps


def test_a_batch_knows_its_slots_by_position() -> None:
    """What a reply's position is looked up with: a contiguous batch keeps no offsets,
    one with gaps keeps 4 bytes a probe (8 past a 2**32 span); a skipped position or one
    outside the batch is no slot."""
    assert _syn._offsets(array("q", range(100, 164))) is None
    gappy = array("q", [100, 101, 105, 106, 200])
    offs = _syn._offsets(gappy)
    assert offs is not None and offs.typecode == "I" and list(offs) == [0, 1, 5, 6, 100]
    wide = _syn._offsets(array("q", [7, 7 + 2**33]))
    assert wide is not None and wide.typecode == "Q"
    for o in (None, offs):
        g = _syn._Group(100, 64 if o is None else len(gappy), o)
        positions = range(100, 164) if o is None else gappy
        assert [g.slot(p) for p in positions] == list(range(len(positions)))
        assert [g.position(s) for s in range(len(positions))] == list(positions)
        assert g.slot(99) == -1 and g.slot(positions[-1] + 1) == -1
    assert _syn._Group(100, len(gappy), offs).slot(102) == -1


async def test_retry_state_is_a_few_bytes_a_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """With retries, what a run keeps per probe in flight (sending stubbed out: nothing
    leaves) is its address (4 bytes), port (2) and answered byte and the batch's share of
    a few objects — not its packet or its position (those were 48 bytes a probe, and a
    set entry per answer)."""
    monkeypatch.setattr(raw.BatchSender, "send", lambda self, start, end: end - start)
    plan = Plan(["127.20.0.0/16"], "80", allow=["127.20.0.0/16"])
    d = plan.syn(timeout=60.0, retries=1)
    eng = _syn._SynRun(d, plan.probes(), asyncio.get_running_loop())
    try:
        eng._send_new(1024)  # the first batch opens the receiver: not counted
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        n = sum(eng._send_new(1024) for _ in range(63))
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert n == 63 * 1024 and len(eng.inflight) == 64
        assert kept / n < 8, kept / n
    finally:
        eng.close()


async def test_rate_limit() -> None:
    plan = Plan(["127.20.80.128/26"], "1-300")
    d = plan.syn(timeout=0.3, rate=20000.0)
    t0 = time.monotonic()
    assert await _found(d, plan.probes()) == set()
    took = time.monotonic() - t0
    assert d.stats.sent == d.stats.closed == plan.space.size
    assert took >= plan.space.size / 20000.0 * 0.8


# -- rights ----------------------------------------------------------------------------


def _in_child(fn: Callable[[], str]) -> str:
    """Run fn in a forked child; return what it returned (or its error)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            out = fn()
        except BaseException as exc:
            out = f"{type(exc).__name__}: {exc}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode()
    os.waitpid(pid, 0)
    return data


def test_without_raw_rights_it_says_so() -> None:
    """A real unprivileged process (uid 65534): the kernel refuses the raw socket."""

    def child() -> str:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        raw.check_rights()
        return "opened"

    out = _in_child(child)
    assert out.startswith("RawSocketDenied: --syn needs raw-socket rights (CAP_NET_RAW")
    assert "--connect" in out
    assert issubclass(RawSocketDenied, PermissionError)


def test_cli_without_cap_net_raw(tmp_path: Path) -> None:
    """`netatlas scan --syn` with CAP_NET_RAW dropped (setpriv): one line, nothing
    sent, no scan registered."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) not installed")
    exe = Path(sys.executable).with_name("netatlas")
    db = tmp_path / "n.db"
    r = subprocess.run(
        [setpriv, "--inh-caps=-net_raw", "--bounding-set=-net_raw", str(exe), "scan",
         "127.20.80.10", "-p", "22", "--exclude-ports", "2024", "--allow", NET, "--syn",
         "--db", str(db)],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "CAP_NET_RAW" in lines[0] and "--connect" in lines[0]
    listed = subprocess.run([str(exe), "scans", "--json", "--db", str(db)],
                            capture_output=True, text=True, timeout=60)
    assert listed.stdout.strip() in ("", "[]")


# -- the whole scan ------------------------------------------------------------------


def test_cli_syn_scan_grabs_what_it_finds(tmp_path: Path, listening: list[Endpoint]) -> None:
    exe = Path(sys.executable).with_name("netatlas")
    db = tmp_path / "s.db"
    ports = ",".join(str(p) for p in sorted({ep.port for ep in listening}))
    r = subprocess.run(
        [str(exe), "scan", "127.20.80.8/29", "-p", f"1-100,{ports}", "--exclude-ports",
         "2024", "--allow", NET, "--syn", "--retries", "1", "--banner-wait", "0.2",
         "--db", str(db), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    import json

    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished"
    assert summary["open"] == len(listening) == summary["observations"]


async def test_api_method_syn(tmp_path: Path, listening: list[Endpoint]) -> None:
    """The API's scan body takes `method` (pipeline.DISCOVER_METHODS) to the same
    pipeline: a SYN scan started through the scan manager finds the listeners."""
    from pydantic import ValidationError

    from netatlas.api._native import ScanBody
    from netatlas.api._scans import ScanManager, ScanRequest
    from netatlas.store import open_store

    with pytest.raises(ValidationError):
        ScanBody(targets=["127.20.80.10"], method="fin")
    ports = ",".join(str(p) for p in sorted({ep.port for ep in listening}))
    body = ScanBody(targets=["127.20.80.8/29"], ports=ports, method="syn", grab=False)
    store = open_store(str(tmp_path / "api.db"))
    manager = ScanManager(store, [NET], exclude_ports=str(FORBIDDEN_PORT))
    try:
        scan = await manager.start(ScanRequest(**body.model_dump()))
        assert scan.args["method"] == "syn"
        while manager.is_running(scan.id):
            await asyncio.sleep(0.1)
        assert manager.error(scan.id) is None
        done = manager.get(scan.id)
        assert done is not None and done.status == "finished"
        assert done.open_ports == len(listening) == done.observations
    finally:
        await manager.shutdown()
        store.close()


async def test_an_expiry_timer_is_always_left_armed() -> None:
    """The stall once seen in a bench run: the timer armed for batch A fired after the
    run loop had already expired A, so it fired for nothing, and with B not yet due no
    timer was armed again: the run waited for ever once nothing else woke it."""
    d = SynDiscoverer(lambda pos: None, [], timeout=0.05)
    loop = asyncio.get_running_loop()
    eng = _syn._SynRun(d, iter(()), loop)
    try:
        now = loop.time()
        a, b = _syn._Batch(0, 1, now - 0.01), _syn._Batch(1, 1, now + 10.0)
        eng.inflight.extend((a, b))
        d._progress.add(0)
        d._progress.add(1)
        eng.expire_timer = loop.call_at(now + 100.0, lambda: None)  # A's, not fired yet
        eng.expire()  # the run loop expires A first
        assert list(eng.inflight) == [b] and d.stats.done == 1
        eng.expire_timer.cancel()  # A's timer fires for nothing ...
        eng.expire_timer = None
        eng.expire()  # ... and B is not due: one must be armed for it
        assert eng.expire_timer is not None and eng.expire_timer.when() == b.deadline
    finally:
        eng.close()


# -- the packets and the hash ----------------------------------------------------------


def test_the_batch_hash_is_the_hash_of_each_target() -> None:
    """TargetHash.hashes (one AES call for a batch) gives each target's H, as defined
    (``_hash`` here), and another key gives other values."""
    key = os.urandom(32)
    targets = [(int(ipaddress.ip_address(f"127.20.{80 + k // 256}.{k % 256}")), 1000 + k)
               for k in range(300)]
    th = _syn.TargetHash(key, len(targets))
    for k, (ip, port) in enumerate(targets):
        th.put(k, ip, port)
    got = list(th.hashes(len(targets)))
    assert got == [_hash(key, str(ipaddress.ip_address(ip)), port) for ip, port in targets]
    assert got == [th.one(ip, port) for ip, port in targets]
    other = _syn.TargetHash(os.urandom(32), 1)
    assert sum(other.one(ip, port) == h for (ip, port), h in zip(targets, got, strict=True)) == 0
    # a retransmission writes its inputs all at once: the same blocks, the same H
    bulk = _syn.TargetHash(key, len(targets))
    bulk.put_many(array("I", [ip for ip, _ in targets]), array("H", [p for _, p in targets]))
    assert bulk.block == th.block
    assert list(bulk.hashes(len(targets))) == got


def _tcp_checksum_ok(pkt: bytes) -> bool:
    pseudo = pkt[12:20] + struct.pack("!BBH", 0, 6, len(pkt) - 20)
    data = pseudo + pkt[20:]
    c = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while c >> 16:
        c = (c & 0xFFFF) + (c >> 16)
    return c == 0xFFFF


async def test_every_packet_of_a_batch_is_a_well_formed_syn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The packets as written in the batch buffer (sending stubbed out: nothing leaves):
    header fields, checksums (the incremental sum, the 0xFFFF fold included), source
    port and sequence number from H, the sockaddr of each slot."""
    monkeypatch.setattr(raw.BatchSender, "send", lambda self, start, end: end - start)
    plan = Plan(["127.20.80.0/24"], "1-40")
    key = os.urandom(32)
    d = plan.syn(key=key, batch=512)
    eng = _syn._SynRun(d, plan.probes(), asyncio.get_running_loop())
    try:
        probes = list(plan.probes())
        done, checked = 0, 0
        while done < len(probes):
            j = eng._send_new(512)
            buf, addrs = bytes(eng.out.packets), bytes(eng.out.addrs)
            for k in range(j):
                pos, ep = probes[done + k]
                pkt = buf[raw.PACKET * k:raw.PACKET * (k + 1)]
                assert pkt[:2] == b"\x45\x00" and pkt[9] == 6 and pkt[33] == raw.SYN
                assert socket.inet_ntoa(pkt[16:20]) == ep.ip
                assert addrs[16 * k + 4:16 * k + 8] == pkt[16:20]
                sport, dport, seq = struct.unpack_from("!HHI", pkt, 20)
                h = _hash(key, ep.ip, ep.port)
                assert (sport, dport) == (_syn.SPORT_BASE + (h >> 52), ep.port)
                assert seq == (pos + h) & 0xFFFFFFFF
                assert _tcp_checksum_ok(pkt)
                checked += 1
            done += j
        assert checked == plan.space.size == 256 * 40
    finally:
        eng.close()


async def test_shards_side_by_side_see_only_their_own_replies(
        listening: list[Endpoint]) -> None:
    """Two runs at once from the same address, shards 0/2 and 1/2 of one permutation
    (as `--procs 2`): each reads only the replies to its slice of the source ports, so
    none is counted invalid or twice, and together they find what one run finds."""
    extra = ",".join(str(ep.port) for ep in listening)
    targets, ports = ["127.20.80.0/28"], f"1-512,{extra}"
    whole = Plan(targets, ports)
    runs = []
    for i in range(2):
        plan = Plan(targets, ports)
        plan.perm = Permutation(plan.space.size, seed=7, shard=(i, 2))
        runs.append((plan, plan.syn(timeout=1.0, retries=1, shard=(i, 2))))
    found = await asyncio.gather(*(_found(d, p.probes()) for p, d in runs))
    assert found[0] | found[1] == await _found(whole.syn(timeout=1.0), whole.probes())
    assert not found[0] & found[1]
    assert set(listening) <= found[0] | found[1]
    for plan, d in runs:
        st = d.stats
        assert st.invalid == 0 and st.duplicate == 0 and st.filtered == 0
        assert st.done == plan.perm.count and st.open + st.closed == st.done
    assert sum(d.stats.done for _, d in runs) == whole.space.size


def test_a_shard_takes_its_slice_of_the_source_ports() -> None:
    d0 = SynDiscoverer(lambda pos: None, [], shard=(0, 2))
    d1 = SynDiscoverer(lambda pos: None, [], shard=(1, 2))
    assert (d0.sport_lo, d0.sport_span) == (_syn.SPORT_BASE, 2048)
    assert (d1.sport_lo, d1.sport_span) == (_syn.SPORT_BASE + 2048, 2048)
    with pytest.raises(ValueError, match="shard"):
        SynDiscoverer(lambda pos: None, [], shard=(2, 2))


def test_a_sharded_scan_sends_from_its_shards_ports() -> None:
    """``--shard i/N`` (and cluster workers) running at once from one address: the
    scan's SYN engine takes the scan's shard, so each counts only its own replies."""
    from netatlas.pipeline import ScanConfig, _tcp_discoverer, plan_scan

    cfg = ScanConfig(targets=["127.20.9.0/30"], allow=["127.20.9.0/30"], ports="80",
                     exclude_ports="2024", method="syn", shard=(1, 4))
    d = _tcp_discoverer(cfg, plan_scan(cfg), None, None)
    assert isinstance(d, SynDiscoverer)
    assert (d.sport_lo, d.sport_span) == (_syn.SPORT_BASE + 1024, 1024)


# -- the batch path: probes as arrays, never Endpoints ---------------------------------


class _Loopback:
    """Defence in depth for a batch source: every address in 127/8, never port 2024."""

    def __init__(self, source: ProbeBatches) -> None:
        self.source = source

    def take(self, n: int) -> Batch:
        positions, addrs, ports = self.source.take(n)
        assert ((addrs >> 24) == 127).all() and (ports != FORBIDDEN_PORT).all()
        return positions, addrs, ports


async def _written(monkeypatch: pytest.MonkeyPatch, plan: Plan, source: object,
                   key: bytes, batch: int) -> list[bytes]:
    """Every packet a run's first sends write, in order (sending stubbed: nothing
    leaves), as the engine would send them, from ``source``."""
    packets: list[bytes] = []

    def send(self: raw.BatchSender, start: int, end: int) -> int:
        for j in range(start, end):
            packets.append(bytes(self.packets[raw.PACKET * j:raw.PACKET * (j + 1)]))
            assert self.addrs[16 * j + 4:16 * j + 8] == packets[-1][16:20]
        return end - start

    monkeypatch.setattr(raw.BatchSender, "send", send)
    d = plan.syn(key=key, batch=batch)
    eng = _syn._SynRun(d, source, asyncio.get_running_loop())  # type: ignore[arg-type]
    try:
        while eng._send_new(batch):
            pass
        assert eng.exhausted
    finally:
        eng.close()
    return packets


async def test_batches_write_the_packets_the_probe_stream_writes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same probes, byte for byte, whether the engine takes (position, Endpoint)
    pairs or arrays: same positions in the same order, so the same destinations, source
    ports, sequence numbers and checksums; across shards and from a resume point."""
    key = os.urandom(32)
    for shard, position in (((0, 1), 0), ((1, 3), 0), ((2, 3), 97), ((0, 1), 1500)):
        plan = Plan(["127.20.80.0/26", "127.20.80.200/30"], "T:1-40,U:53",
                    allow=[NET])
        plan.perm = Permutation(plan.space.size, seed=11, shard=shard)
        stream = (pe for pe in iter_endpoints(plan.space, plan.perm, position)
                  if pe[1].transport == "tcp")
        old = await _written(monkeypatch, plan, _loopback_only(stream), key, 100)
        new = await _written(monkeypatch, plan, _Loopback(plan.batches(position)), key, 100)
        assert len(old) == len(new) > 0 and old == new, (shard, position)
        assert not any(struct.unpack_from("!H", pkt, 22)[0] == FORBIDDEN_PORT for pkt in new)


class _Arrays:
    """A batch source handing over fixed arrays (what a faulty walk could hand over)."""

    def __init__(self, ips: list[str], ports: list[int]) -> None:
        self.rows = [(k, int(ipaddress.ip_address(ip)), port)
                     for k, (ip, port) in enumerate(zip(ips, ports, strict=True))]

    def take(self, n: int) -> Batch:
        rows, self.rows = self.rows[:n], self.rows[n:]
        return (np.array([r[0] for r in rows], np.int64),
                np.array([r[1] for r in rows], np.uint32),
                np.array([r[2] for r in rows], np.uint16))


@pytest.mark.parametrize("allow", [[NET], [NET, "127.20.82.0/24"]])
async def test_a_batch_with_an_address_outside_scope_is_refused_whole(
        allow: list[str], listening: list[Endpoint]) -> None:
    """The sender's guard over a batch of arrays (one allowed interval: bounds; several:
    a search per address): an address outside stops the run before anything of that
    batch is written; a listener there sees nothing, and neither do the in-scope ones."""
    outside = socket.socket()
    outside.bind(("127.20.81.5", 0))
    outside.listen(8)
    port = outside.getsockname()[1]
    assert port != FORBIDDEN_PORT
    inside = listening[:2]
    source = _Arrays([*(ep.ip for ep in inside), "127.20.81.5"],
                     [*(ep.port for ep in inside), port])
    counter = PacketCounter("127.20.80.0/22")
    try:
        d = SynDiscoverer(lambda pos: None, Scope(allow).permitted_intervals(4), timeout=0.3)
        with pytest.raises(OutOfScope, match=r"127\.20\.81\.5"):
            await _found(d, source)  # type: ignore[arg-type]
    finally:
        seen = counter.close()
        outside.close()
    assert [s for s in seen if s[3] >= _syn.SPORT_BASE] == []
    assert d.stats.sent == 0


async def test_the_deny_list_guards_batches_too() -> None:
    scope = Scope([NET, "127.20.82.0/24"], exclude=["127.20.80.128/25"])
    assert len(scope.permitted_intervals(4)) == 2
    d = SynDiscoverer(lambda pos: None, scope.permitted_intervals(4), timeout=0.2)
    counter = PacketCounter("127.20.80.200/32")
    try:
        with pytest.raises(OutOfScope, match=r"127\.20\.80\.200"):
            await _found(d, _Arrays(["127.20.82.1", "127.20.80.200"],  # type: ignore[arg-type]
                                    [free_port("127.20.82.1"), free_port("127.20.80.200")]))
    finally:
        assert counter.close() == []
    assert d.stats.sent == 0


async def test_a_scan_from_batches_finds_what_connect_finds(
        listening: list[Endpoint]) -> None:
    """Precision and recall 1.0 from arrays, with retries; opens come back as Endpoints
    (built for them alone); the denied port 2024, in the port range asked, is never
    sent a packet; the watermark reaches the end."""
    extra = ",".join(str(ep.port) for ep in listening)
    plan = Plan(["127.20.80.0/28"], f"1-1024,2000-2050,8080,{extra}")
    counter = PacketCounter("127.20.80.0/28", FORBIDDEN_PORT)
    try:
        syn = plan.syn(timeout=1.0, retries=1)
        found = [pe async for pe in syn.run(_Loopback(plan.batches()))]  # type: ignore[arg-type]
    finally:
        seen = counter.close()
    by_connect = await _found(Discoverer(timeout=1.0, retries=1), plan.probes())
    assert {ep for _, ep in found} == by_connect and set(listening) <= by_connect
    assert all(plan.locate(pos) == ep for pos, ep in found)
    assert seen == []  # not one packet to 2024
    st = syn.stats
    assert st.sent == st.done == plan.space.size and st.invalid == 0
    assert st.closed == plan.space.size - len(found) and st.filtered == 0
    assert syn.watermark == plan.perm.steps


async def test_shards_of_batches_resumed_from_a_watermark(
        listening: list[Endpoint]) -> None:
    """Each of two shards resumed from a position inside its walk: from arrays it finds
    what the per-probe stream finds from the same position (one after the other: the
    same shard twice at once would read each other's replies)."""
    extra = ",".join(str(ep.port) for ep in listening)
    targets, ports = ["127.20.80.8/29"], f"1-300,{extra}"
    for i in range(2):
        plan = Plan(targets, ports)
        plan.perm = Permutation(plan.space.size, seed=3, shard=(i, 2))
        start = plan.perm.steps // 4
        by_batches = plan.syn(timeout=1.0, retries=1, shard=(i, 2))
        by_stream = plan.syn(timeout=1.0, retries=1, shard=(i, 2))
        got = await _found(by_batches, _Loopback(plan.batches(start)))  # type: ignore[arg-type]
        want = await _found(by_stream,
                            _loopback_only(iter_endpoints(plan.space, plan.perm, start)))
        assert got == want
        assert by_batches.stats.done == by_stream.stats.done
        assert by_batches.stats.invalid == by_stream.stats.invalid == 0
        assert by_batches.watermark == by_stream.watermark > start


async def test_a_mixed_scan_hands_the_syn_engine_batches(
        listening: list[Endpoint]) -> None:
    """TCP and UDP ports in one scan: the SYN engine takes the TCP probes as arrays
    (``batches(transport)``), not the filtered stream of pairs."""
    from netatlas.discover import MixedDiscoverer

    extra = ",".join(str(ep.port) for ep in listening)
    plan = Plan(["127.20.80.8/29"], f"T:{extra},U:9")
    asked: list[str] = []

    def batches(transport: str) -> _Loopback:
        asked.append(transport)
        return _Loopback(plan.space.batches(plan.perm, 0, transport))

    mixed = MixedDiscoverer(plan.syn(timeout=0.5), None)
    found = {ep async for _, ep in mixed.run(
        lambda: _loopback_only(iter_endpoints(plan.space, plan.perm, 0)), batches)}
    assert asked == ["tcp"] and found == set(listening)


def test_rsts_read_as_arrays_count_each_probe_once() -> None:
    """``_answered`` over a read of RSTs: each probe is closed once, whatever the order
    and the repeats in one read or across reads (the rest are duplicates); a position a
    batch skipped, one before every batch, or one of a finished batch is invalid."""

    class Run:  # what _answered reads of a run
        ghead = 0

    run = Run()
    contiguous = _syn._Group(100, 64)
    gappy_pos = array("q", [200, 201, 205, 206, 300])
    gappy = _syn._Group(200, 5, _syn._offsets(gappy_pos))
    done = _syn._Group(400, 10)
    done.alive = 0
    run.groups = [contiguous, gappy, done]  # type: ignore[attr-defined]
    run.gfirst = [100, 200, 400]  # type: ignore[attr-defined]

    def answered(*pos: int) -> tuple[int, int, int]:
        return _syn._SynRun._answered(run, np.array(pos, np.int64))  # type: ignore[arg-type]

    assert answered(101, 100, 101, 163, 100) == (3, 2, 0)
    assert answered(100, 102) == (1, 1, 0)
    assert answered(205, 202, 206, 300, 205, 164) == (3, 1, 2)  # 202: skipped, 164: none
    assert answered(99, 401) == (0, 0, 2)  # before every batch; a finished batch
    assert [bytes(g.answered) for g in (contiguous, gappy)] == [
        b"\x01\x01\x01" + bytes(60) + b"\x01", b"\x00\x00\x01\x01\x01"]


def test_a_batch_sent_from_threads_leaves_what_fell_short_at_its_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Sent from several threads (each its piece of the slots), a batch whose pieces fell
    short (a local shortage: EAGAIN, ENOBUFS) reports how many went, and the slots not
    sent are moved, in order, to its end: what the caller sends again. Nothing leaves
    here (the per-piece send is stubbed)."""
    pieces: list[tuple[int, int]] = []
    short = {1024: 100, 2048: 0}  # piece starting at slot s: how many of it went

    def send_range(self: raw.BatchSender, fd: int, start: int, end: int) -> int:
        pieces.append((start, end))
        return short.get(start, end - start)

    monkeypatch.setattr(raw.BatchSender, "_send_range", send_range)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        out = raw.BatchSender(s, 4096, threads=4)
        try:
            for j in range(4096):  # a packet and an address telling their slot
                out.packets[raw.PACKET * j:raw.PACKET * j + 4] = struct.pack("!I", j)
                out.addrs[16 * j + 4:16 * j + 8] = struct.pack("!I", j)
            assert out.send(0, 4096) == 4096 - 924 - 1024
            assert sorted(pieces) == [(0, 1024), (1024, 2048), (2048, 3072), (3072, 4096)]
            unsent = [*range(1124, 2048), *range(2048, 3072)]
            tail = range(4096 - len(unsent), 4096)
            assert [struct.unpack_from("!I", out.packets, raw.PACKET * j)[0]
                    for j in tail] == unsent
            assert [struct.unpack_from("!I", out.addrs, 16 * j + 4)[0]
                    for j in tail] == unsent
            pieces.clear()
            assert out.send(0, 300) == 300 and pieces == [(0, 300)]  # too few to split
        finally:
            out.close()
    assert not any(t.name == "netatlas-syn-send" for t in threading.enumerate())


@pytest.mark.parametrize("ring", [True, False])
async def test_replies_are_read_whatever_the_receiver(
        listening: list[Endpoint], monkeypatch: pytest.MonkeyPatch, ring: bool) -> None:
    """Replies read from a ring shared with the kernel (here 256 frames, so a scan of
    10,000 probes goes round it about 40 times) or with ``recvmmsg``: the same opens,
    every other probe closed, nothing invalid or dropped."""
    monkeypatch.setattr(raw, "RING_FRAMES", 256)
    if not ring:
        monkeypatch.setenv("NETATLAS_NO_RING", "1")
    kinds: list[str] = []
    make = _syn._receiver

    def spy(sock: socket.socket, size: int) -> raw.RingReceiver | raw.BatchReceiver:
        got = make(sock, size)
        kinds.append(type(got).__name__)
        return got

    monkeypatch.setattr(_syn, "_receiver", spy)
    extra = ",".join(str(ep.port) for ep in listening)
    plan = Plan(["127.20.80.0/28"], f"1-600,{extra}")
    d = plan.syn(timeout=0.5, retries=1, batch=64)
    found = await _found(d, plan.probes())
    assert kinds == ["RingReceiver" if ring else "BatchReceiver"]
    assert found == set(listening)
    st = d.stats
    assert (st.open, st.closed) == (len(listening), plan.space.size - len(listening))
    assert st.invalid == 0 and st.dropped == 0 and st.received >= plan.space.size


async def test_a_scan_whose_every_probe_answered_does_not_wait_its_cooldown(
        listening: list[Endpoint]) -> None:
    """With retries (answered bytes kept), a batch all of whose probes answered is
    finished at once: a scan of ports that all answer (RST or SYN-ACK) ends long before
    its timeout, with the same findings and watermark as a scan that waits; without
    retries nothing is kept to know it, so the last timeout is waited out."""
    extra = ",".join(str(ep.port) for ep in listening)
    plan = Plan(["127.20.80.8/29"], f"1-200,{extra}")
    t0 = time.monotonic()
    waits = plan.syn(timeout=1.0, retries=0)
    assert await _found(waits, plan.probes()) == set(listening)
    assert time.monotonic() - t0 >= 1.0
    t0 = time.monotonic()
    d = plan.syn(timeout=5.0, retries=1)
    assert await _found(d, plan.probes()) == set(listening)
    assert time.monotonic() - t0 < 2.5
    st = d.stats
    assert (st.open, st.closed, st.filtered, st.retried) == (
        len(listening), plan.space.size - len(listening), 0, 0)
    assert d.watermark == waits.watermark
