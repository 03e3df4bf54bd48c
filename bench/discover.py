"""netatlas discovery vs ``nmap -sT`` on loopback: speed, memory, agreement.

    python bench/discover.py [--targets 127.20.0.0/24] [--ports 1-10000] [--exclude-ports 2024]
    python bench/discover.py --memory      # 127.21.0.0/16 x 1-100: RSS and rate, netatlas only
    python bench/discover.py --syn         # netatlas --syn vs connect vs nmap -sS vs zmap
    python bench/discover.py --syn --memory  # netatlas --syn and zmap: /24, /16, /12

Port 2024 is always excluded, whatever is asked. Targets must be loopback. Each scanner
runs in its own child process; peak RSS is that child's VmHWM (/proc/PID/status, polled
while it runs: wait4's ru_maxrss is no use, Linux carries it over from the parent's
address space at exec), CPU time its rusage (os.wait4). A few
listeners are started on 127.20.0.x inside the target range so there is something to
find, and stopped (by PID) afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

FORBIDDEN_PORT = 2024  # belongs to something else on every loopback address
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
HERE = Path(__file__).resolve()


# -- the probe stream ------------------------------------------------------------------


def probe_stream(targets: str, ports: str, exclude: str, seed: int,
                 shard: tuple[int, int] = (0, 1)) -> tuple[int, Iterator]:
    """(size, iterator of (position, Endpoint)) over targets x ports - exclude.

    Uses netatlas.scope (allow list = the targets themselves, random permutation) when
    it is importable; otherwise a plain sequential generator with the same contract.
    """
    try:
        from netatlas.scope import (
            Permutation,
            Scope,
            TargetSpace,
            exclude_ports,
            iter_endpoints,
            parse_ports,
            parse_targets,
        )
    except ImportError:
        return _simple_stream(targets, ports, exclude, shard)
    portset = exclude_ports(parse_ports(ports), exclude)
    space = TargetSpace(parse_targets([targets], resolve=False), portset, Scope([targets]))
    perm = Permutation(space.size, seed=seed, shard=shard)
    return space.size, iter_endpoints(space, perm, 0)


def syn_checks(targets: str, ports: str, exclude: str, seed: int,
               shard: tuple[int, int]) -> tuple:
    """What a SYN scan takes its probes from (the walk a batch at a time, as arrays:
    ``TargetSpace.batches``) and checks replies and destinations against: the
    permutation's endpoint at a position, and the allow list (the targets) as IPv4
    intervals."""
    from netatlas.scope import (
        Permutation,
        Scope,
        TargetSpace,
        exclude_ports,
        parse_ports,
        parse_targets,
    )

    scope = Scope([targets])
    space = TargetSpace(parse_targets([targets], resolve=False),
                        exclude_ports(parse_ports(ports), exclude), scope)
    perm = Permutation(space.size, seed=seed, shard=shard)
    return (GuardedBatches(space.batches(perm, 0)), (lambda pos: space.at(perm, pos)),
            scope.permitted_intervals(4))


class GuardedBatches:
    """Belt and braces for a batch source: the safety rules, checked per batch (every
    address in 127.0.0.0/8, never port 2024) before the sender sees it."""

    def __init__(self, source: object) -> None:
        self.source = source

    def take(self, n: int) -> tuple:
        positions, addrs, ports = self.source.take(n)  # type: ignore[attr-defined]
        if len(addrs) and (((addrs >> 24) != 127).any() or (ports == FORBIDDEN_PORT).any()):
            raise SystemExit("refusing to probe outside 127.0.0.0/8 or port 2024")
        return positions, addrs, ports


def _port_list(spec: str) -> list[int]:
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


def _simple_stream(targets: str, ports: str, exclude: str,
                   shard: tuple[int, int] = (0, 1)) -> tuple[int, Iterator]:
    from netatlas.model import Endpoint

    net = ipaddress.ip_network(targets, strict=False)
    plist = [p for p in _port_list(ports) if p not in set(_port_list(exclude))]

    def gen() -> Iterator:
        pos = 0
        for addr in net:
            ip = str(addr)
            for p in plist:
                if pos % shard[1] == shard[0]:
                    yield pos, Endpoint(ip, p)
                pos += 1

    return net.num_addresses * len(plist), gen()


# -- child: netatlas ------------------------------------------------------------------


def child_netatlas(args: argparse.Namespace) -> None:
    from netatlas.discover import Discoverer, SynDiscoverer

    i, _, n = args.shard.partition("/")
    size, stream = probe_stream(args.targets, args.ports, args.exclude_ports, args.seed,
                                (int(i), int(n)))

    def guarded() -> Iterator:
        for pos, ep in stream:  # belt and braces: the safety rules, checked per probe
            if ep.port == FORBIDDEN_PORT or not ep.ip.startswith("127."):
                raise SystemExit(f"refusing to probe {ep}")
            yield pos, ep

    async def main() -> dict:
        d: Discoverer | SynDiscoverer
        probes: object = guarded()
        if args.method == "syn":
            batches, locate, allowed = syn_checks(args.targets, args.ports,
                                                  args.exclude_ports, args.seed,
                                                  (int(i), int(n)))
            probes = batches
            d = SynDiscoverer(locate, allowed, rate=args.rate, timeout=args.timeout,
                              retries=args.retries, shard=(int(i), int(n)))
        else:
            d = Discoverer(rate=args.rate, concurrency=args.concurrency,
                           timeout=args.timeout, retries=args.retries)
        t0 = time.perf_counter()

        async def report() -> None:  # progress on stderr, to see a stall
            while True:
                await asyncio.sleep(5)
                print(f"{time.perf_counter() - t0:.0f}s {d.stats} watermark {d.watermark}",
                      file=sys.stderr, flush=True)

        reporter = asyncio.create_task(report())
        found = [[ep.ip, ep.port] async for _, ep in d.run(probes)]  # type: ignore[arg-type]
        reporter.cancel()
        scan = time.perf_counter() - t0
        return {"size": size, "open": found, "scan_seconds": scan,
                "stats": d.stats.to_dict(), "watermark": d.watermark}

    print(json.dumps(asyncio.run(main())))


# -- child: listeners -----------------------------------------------------------------


def child_listen(spec: str) -> None:
    sel = selectors.DefaultSelector()
    bound = []
    for item in spec.split(","):
        ip, _, port = item.rpartition(":")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, int(port)))
        except OSError:  # taken (the lab may be up): someone else's, fine
            s.close()
            continue
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bound.append(item)
    print("ready " + ",".join(bound), flush=True)
    while True:
        for key, _ in sel.select():
            try:
                conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                conn.close()
            except OSError:
                pass


def default_listeners(targets: str, ports: list[int]) -> str:
    net = ipaddress.ip_network(targets, strict=False)
    hosts = [net[min(k, net.num_addresses - 1)] for k in (10, 11, 12, 13)]
    wanted = [22, 80, 443, 3306, 8080, 9999]
    pick = [p for p in wanted if p in set(ports)] or ports[:6]
    items = [f"{hosts[i % len(hosts)]}:{p}" for i, p in enumerate(pick)]
    return ",".join(i for i in items if ipaddress.ip_address(i.rpartition(":")[0]).is_loopback)


# -- parent ---------------------------------------------------------------------------


def run_measured(cmd: list[str]) -> tuple[bytes, float, int, int]:
    """Run cmd; return (stdout, wall seconds, peak RSS KiB, exit status)."""
    out, wall, rss, _, rc = run_parallel([cmd])
    return out[0], wall, rss, rc


def run_parallel(cmds: list[list[str]]) -> tuple[list[bytes], float, int, float, int]:
    """Run cmds at once; (stdouts, wall until the last exits, peak RSS KiB summed over
    the processes, CPU seconds (user + sys) summed, worst exit status). Peak RSS is each
    child's VmHWM, polled until it exits (VmHWM only grows: the last reading is its
    peak, short of the last poll interval); stderr is shown when a child fails."""
    from netatlas.lab.process import peak_rss_kib

    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for c in cmds]
    outs = [b""] * len(procs)
    errs = [b""] * len(procs)

    def drain(k: int) -> None:
        p = procs[k]
        errs[k] = p.stderr.read() if p.stderr else b""

    def drain_out(k: int) -> None:
        p = procs[k]
        outs[k] = p.stdout.read() if p.stdout else b""

    readers = [threading.Thread(target=f, args=(k,)) for k in range(len(procs))
               for f in (drain, drain_out)]
    for t in readers:
        t.start()
    peak = [0] * len(procs)
    cpu, worst = 0.0, 0
    left = set(range(len(procs)))
    while left:
        for k in sorted(left):
            p = procs[k]
            peak[k] = max(peak[k], peak_rss_kib(p.pid))
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                left.discard(k)
                p.returncode = os.waitstatus_to_exitcode(status)
                cpu += usage.ru_utime + usage.ru_stime
                worst = worst or p.returncode
        if left:
            time.sleep(0.02)
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    for p, err in zip(procs, errs, strict=True):
        if p.returncode != 0:
            sys.stderr.write(err.decode(errors="replace")[-2000:])
    return outs, wall, sum(peak), cpu, worst


def merge(results: list[dict]) -> dict:
    """One result out of the shards' results."""
    if len(results) == 1:
        return results[0]
    stats = {k: sum(r["stats"][k] for r in results) for k in results[0]["stats"]}
    return {"size": results[0]["size"], "open": [o for r in results for o in r["open"]],
            "scan_seconds": max(r["scan_seconds"] for r in results), "stats": stats,
            "watermark": [r["watermark"] for r in results]}


def run_netatlas(args: argparse.Namespace) -> tuple[dict, float, int] | None:
    cmds = [child_cmd(args, f"{i}/{args.procs}") for i in range(args.procs)]
    outs, wall, rss, _, rc = run_parallel(cmds)
    if rc != 0:
        print("netatlas run failed", file=sys.stderr)
        return None
    return merge([json.loads(o) for o in outs]), wall, rss


def nmap_cmd(args: argparse.Namespace) -> list[str]:
    return ["nmap", "-sT", "-Pn", "-n", "-T4", "--max-retries", "1",
            "--exclude-ports", args.exclude_ports, "-p", args.ports, args.targets, "-oX", "-"]


def nmap_open(xml: bytes) -> set[tuple[str, int]]:
    found = set()
    for host in ET.fromstring(xml).iter("host"):
        addr = host.find("address")
        ip = addr.get("addr", "") if addr is not None else ""
        for port in host.iter("port"):
            state = port.find("state")
            if state is not None and state.get("state") == "open":
                found.add((ip, int(port.get("portid", "0"))))
    return found


def child_cmd(args: argparse.Namespace, shard: str = "0/1") -> list[str]:
    cmd = [sys.executable, str(HERE), "--_child", "--method", args.method, "--shard", shard,
           "--targets", args.targets, "--ports",
           args.ports, "--exclude-ports", args.exclude_ports, "--concurrency",
           str(args.concurrency), "--timeout", str(args.timeout), "--retries",
           str(args.retries), "--seed", str(args.seed)]
    if args.rate:
        cmd += ["--rate", str(args.rate)]
    return cmd


def check_safe(args: argparse.Namespace) -> None:
    net = ipaddress.ip_network(args.targets, strict=False)
    if not net.subnet_of(LOOPBACK):  # type: ignore[arg-type]
        raise SystemExit(f"{args.targets} is not inside 127.0.0.0/8: refusing")
    excl = set(_port_list(args.exclude_ports)) | {FORBIDDEN_PORT}
    args.exclude_ports = ",".join(str(p) for p in sorted(excl))


def row(name: str, *cols: object, width: int = 16) -> str:
    return f"{name:<22}" + "".join(f"{c!s:>{width}}" for c in cols)


def start_listeners(spec: str) -> subprocess.Popen[str]:
    """The listeners of ``spec`` in a child of this script (stopped by PID by the
    caller), once it says they are up."""
    listener = subprocess.Popen([sys.executable, str(HERE), "--_listen", spec],
                                stdout=subprocess.PIPE, text=True)
    ready = listener.stdout.readline().strip() if listener.stdout else ""
    print(f"listeners (pid {listener.pid}): {ready.removeprefix('ready ') or 'none'}")
    return listener


def compare(args: argparse.Namespace) -> int:
    listener = None
    if not args.no_listeners:
        ports = [p for p in _port_list(args.ports) if p != FORBIDDEN_PORT]
        spec = args.listen or default_listeners(args.targets, ports)
        listener = start_listeners(spec)
    try:
        got = run_netatlas(args)
        if got is None:
            return 1
        na, na_wall, na_rss = got
        na_open = {(ip, port) for ip, port in na["open"]}
        nm = None
        if args.no_nmap:
            print("nmap: skipped (--no-nmap)")
        elif not any((Path(d) / "nmap").exists() for d in os.environ["PATH"].split(":")):
            print("nmap: not installed, netatlas figures only")
        else:
            xml, nm_wall, nm_rss, rc = run_measured(nmap_cmd(args))
            nm = (nmap_open(xml), nm_wall, nm_rss) if rc == 0 else None
            if nm is None:
                print("nmap failed", file=sys.stderr)
    finally:
        if listener is not None:
            os.kill(listener.pid, signal.SIGTERM)
            listener.wait()

    size = na["size"]
    st = na["stats"]
    print(f"\n{args.targets} x ports {args.ports} minus {args.exclude_ports}: "
          f"{size} endpoints")
    name = "netatlas" if args.procs == 1 else f"netatlas x{args.procs}"
    print(row("", name, "nmap -sT", "netatlas/nmap"))
    nm_open, nm_wall, nm_rss = nm if nm else (set(), 0.0, 0)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    print(row("probes (endpoints)", size, size if nm else "-", ""))
    print(row("connect attempts", st["sent"], "-", ""))
    print(row("open found", len(na_open), len(nm_open) if nm else "-", ""))
    print(row("wall time (s)", f"{na_wall:.2f}", f"{nm_wall:.2f}" if nm else "-",
              ratio(na_wall, nm_wall)))
    na_rate, nm_rate = size / na_wall, (size / nm_wall if nm else 0.0)
    print(row("rate (probes/s)", f"{na_rate:,.0f}", f"{nm_rate:,.0f}" if nm else "-",
              ratio(na_rate, nm_rate)))
    print(row("peak RSS (MiB)", f"{na_rss / 1024:.1f}", f"{nm_rss / 1024:.1f}" if nm else "-",
              ratio(na_rss, nm_rss)))
    print(f"\nnetatlas scan loop: {na['scan_seconds']:.2f} s "
          f"({st['sent'] / na['scan_seconds']:,.0f} attempts/s); closed {st['closed']}, "
          f"filtered {st['filtered']}, errors {st['errors']}, "
          f"EADDRNOTAVAIL {st['addr_unavailable']}, EMFILE {st['fd_exhausted']}")
    if nm:
        if na_open == nm_open:
            print(f"open sets: identical ({len(na_open)})")
        else:
            print("open sets DIFFER")
            for ip, port in sorted(na_open - nm_open):
                print(f"  only netatlas: {ip}:{port}")
            for ip, port in sorted(nm_open - na_open):
                print(f"  only nmap:     {ip}:{port}")
    return 0


def memory(args: argparse.Namespace) -> int:
    got = run_netatlas(args)
    if got is None:
        return 1
    na, wall, rss = got
    st = na["stats"]
    mib = rss / 1024
    print(f"{args.targets} x {args.ports} minus {args.exclude_ports}: {na['size']} endpoints")
    print(f"wall {wall:.1f} s, rate {na['size'] / wall:,.0f} probes/s "
          f"(scan loop {st['sent'] / na['scan_seconds']:,.0f} attempts/s)")
    if args.procs > 1:
        print(f"({args.procs} processes, one permutation shard each; RSS summed)")
    print(f"peak RSS {mib:.1f} MiB (goal < 200 MiB: {'ok' if mib < 200 else 'MISSED'})")
    print(f"open {st['open']}, closed {st['closed']}, filtered {st['filtered']}, "
          f"errors {st['errors']}, EADDRNOTAVAIL {st['addr_unavailable']}, "
          f"EMFILE {st['fd_exhausted']}, watermark {na['watermark']}")
    return 0


# -- --syn: netatlas SYN vs netatlas connect vs nmap -sS vs zmap ------------------------

ZMAP_SYSCTL = "net.ipv4.conf.lo.route_localnet"
ZMAP_SOURCE = "127.0.0.2"  # in 127/8, not an address of lo (see zmap_cmd)


def run_usage(cmds: list[list[str]]) -> tuple[bytes, float, int, float, int]:
    """(stdout of the first, wall seconds, peak RSS KiB (summed), CPU seconds user+sys
    (summed), worst exit status) of cmds run at once."""
    outs, wall, rss, cpu, rc = run_parallel(cmds)
    return outs[0], wall, rss, cpu, rc


def syn_listeners(targets: str, ports: list[int], k: int = 6) -> str:
    """k listeners spread over the target network, on its first ports."""
    net = ipaddress.ip_network(targets, strict=False)
    size = net.num_addresses
    picks = sorted({10 % size, (size // 3 + 7) % size, (size // 2 + 11) % size,
                    (2 * size // 3 + 13) % size, (size - 20) % size, 12 % size})[:k]
    items = [f"{net[h]}:{ports[j % len(ports)]}" for j, h in enumerate(picks)]
    return ",".join(i for i in items if ipaddress.ip_address(i.rpartition(":")[0]).is_loopback)


def nmap_syn_cmd(args: argparse.Namespace) -> list[str]:
    # -g: a fixed source port (never 2024); --max-retries as netatlas's --retries
    return ["nmap", "-sS", "-Pn", "-n", "-T4", "--max-retries", str(args.retries),
            "-g", "55555", "--exclude-ports", args.exclude_ports, "-p", args.ports,
            args.targets, "-oX", "-"]


def zmap_cmd(args: argparse.Namespace, tmp: Path) -> list[str]:
    """zmap on loopback: frames go out through a packet socket on lo to the 'gateway'
    MAC 00:00:00:00:00:00 (lo's own); its receiver ignores frames from its own source
    MAC, which on lo is also all zeros, so it is told another (--source-mac). The kernel
    takes such injected frames only with route_localnet on lo, and only from a source
    that is no address of lo (127.0.0.1 is: a martian), hence -S 127.0.0.2. One port
    per run (zmap 2.1); -P probes per target; -c the cooldown."""
    allow = tmp / "zmap-allow.txt"
    allow.write_text(args.targets + "\n")
    block = tmp / "zmap-block.txt"
    block.write_text("")
    return ["zmap", "-p", args.ports, "-i", "lo", "-S", ZMAP_SOURCE,
            "-G", "00:00:00:00:00:00", "--source-mac", "02:00:00:00:00:01",
            "-w", str(allow), "-b", str(block), "-r", "0", "-c", str(int(args.timeout) or 1),
            "-P", "1", "-s", "50000-50999", "-q", "-o", "-", "-f", "saddr,sport",
            "--output-filter", "success = 1 && repeat = 0"]


def zmap_open(out: bytes) -> set[tuple[str, int]]:
    found = set()
    for line in out.decode().splitlines():
        ip, _, port = line.partition(",")
        if port.isdigit():
            found.add((ip, int(port)))
    return found


def _sysctl(name: str, value: str | None = None) -> str:
    path = Path("/proc/sys") / name.replace(".", "/")
    if value is not None:
        path.write_text(value)
    return path.read_text().strip()


def run_zmap(args: argparse.Namespace) -> tuple[set, float, int, float] | None:
    """zmap with route_localnet=1 on lo for the run only; restored in any case."""
    if shutil.which("zmap") is None:
        print("zmap: not installed (apt-get install zmap), skipped")
        return None
    if not args.ports.isdigit() or int(args.ports) == FORBIDDEN_PORT:
        print("zmap: one port per run (zmap 2.1; never 2024), skipped for a port list")
        return None
    import tempfile

    before = _sysctl(ZMAP_SYSCTL)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _sysctl(ZMAP_SYSCTL, "1")
            out, wall, rss, cpu, rc = run_usage([zmap_cmd(args, Path(tmp))])
        finally:
            _sysctl(ZMAP_SYSCTL, before)
    print(f"zmap: {ZMAP_SYSCTL} was {before}, set to 1 for its run, restored to "
          f"{_sysctl(ZMAP_SYSCTL)}")
    return (zmap_open(out), wall, rss, cpu) if rc == 0 else None


def run_netatlas_method(args: argparse.Namespace, method: str,
                        procs: int = 1) -> tuple[dict, float, int, float] | None:
    """netatlas in ``procs`` processes, one permutation shard each (for --syn each its
    slice of the source ports): the merged result, wall, RSS and CPU summed."""
    args.method = method
    outs, wall, rss, cpu, rc = run_parallel([child_cmd(args, f"{i}/{procs}")
                                             for i in range(procs)])
    if rc != 0:
        print(f"netatlas {method} failed", file=sys.stderr)
        return None
    return merge([json.loads(o) for o in outs]), wall, rss, cpu


Result = tuple[set, float, int, float, "dict | None"]


def syn_round(args: argparse.Namespace) -> dict[str, Result]:
    """One run of each tool over the same targets, in turn: netatlas --syn, --syn in
    ``--procs`` processes (when > 1), --syn --retries 0 (when --retries), connect,
    nmap -sS, zmap."""
    results: dict[str, Result] = {}
    retries = args.retries
    runs = [("netatlas --syn", "syn", 1, retries)]
    if args.procs > 1:
        runs.append((f"--syn --procs {args.procs}", "syn", args.procs, retries))
    if retries and not args.no_retry_column:
        # zmap's terms: one probe each (-P 1), no answered bytes kept, so the run waits
        # its whole cooldown (with retries a batch all of whose probes answered is
        # finished at once, which on loopback, where every probe answers, is all of them)
        runs.append(("--syn --retries 0", "syn", 1, 0))
    runs.append(("netatlas connect", "connect", 1, retries))
    for name, method, procs, tries in runs:
        args.retries = tries
        try:
            got = run_netatlas_method(args, method, procs)
        finally:
            args.retries = retries
        if got is not None:
            na, wall, rss, cpu = got
            results[name] = ({(ip, p) for ip, p in na["open"]}, wall, rss, cpu, na["stats"])
    if shutil.which("nmap") and not args.no_nmap:
        xml, wall, rss, cpu, rc = run_usage([nmap_syn_cmd(args)])
        if rc == 0:
            results["nmap -sS"] = (nmap_open(xml), wall, rss, cpu, None)
    zm = run_zmap(args) if not args.no_zmap else None
    if zm is not None:
        results["zmap"] = (*zm, None)
    return results


def syn_table(results: dict[str, Result], size: int, median: bool = False) -> None:
    names = list(results)
    print(row("", *names, width=20))
    print(row("wall time (s)", *(f"{results[k][1]:.2f}" for k in names), width=20))
    print(row("probes/s (wall)", *(f"{size / results[k][1]:,.0f}" for k in names), width=20))
    print(row("CPU time (s)", *(f"{results[k][3]:.2f}" for k in names), width=20))
    print(row("probes/CPU-s", *(f"{size / max(results[k][3], 1e-9):,.0f}" for k in names),
              width=20))
    print(row("open found", *(len(results[k][0]) for k in names), width=20))
    print(row("peak RSS (MiB)", *(f"{results[k][2] / 1024:.1f}" for k in names), width=20))
    if median:
        return
    base = results.get("netatlas connect")
    for k in names:
        st = results[k][4]
        if st:
            print(f"{k}: sent {st['sent']}, open {st['open']}, closed {st['closed']}, "
                  f"filtered {st['filtered']}, retried {st['retried']}"
                  + (f", invalid {st['invalid']}, duplicate {st['duplicate']}"
                     if "invalid" in st else "")
                  + (f", dropped {st['dropped']}" if "dropped" in st else ""))
    if base is not None:
        for k in names:
            same = results[k][0] == base[0]
            print(f"open set of {k} vs netatlas connect: "
                  f"{'identical' if same else 'DIFFERS'} ({len(results[k][0])})")
            if not same:
                for ip, p in sorted(results[k][0] ^ base[0])[:10]:
                    print(f"  {ip}:{p} {'only ' + k if (ip, p) in results[k][0] else 'missed'}")


def syn_compare(args: argparse.Namespace) -> int:
    ports = [p for p in _port_list(args.ports) if p != FORBIDDEN_PORT]
    spec = args.listen or syn_listeners(args.targets, ports)
    listener = start_listeners(spec)
    size, _ = probe_stream(args.targets, args.ports, args.exclude_ports, args.seed)
    rounds: list[dict[str, Result]] = []
    loads: list[str] = []
    try:
        for r in range(args.repeat):
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            loads.append(load)
            results = syn_round(args)
            rounds.append(results)
            print(f"\nrun {r + 1}/{args.repeat}: {args.targets} x ports {args.ports} minus "
                  f"{args.exclude_ports}: {size} endpoints; load average before: {load} "
                  f"on {os.cpu_count()} CPUs", flush=True)
            syn_table(results, size)
    finally:
        os.kill(listener.pid, signal.SIGTERM)
        listener.wait()
    if len(rounds) > 1:
        names = [k for k in rounds[0] if all(k in r for r in rounds)]

        def med(k: str, i: int) -> float:
            return statistics.median(r[k][i] for r in rounds)

        medians: dict[str, Result] = {}
        for k in names:  # open found: the run with the median wall time's set
            by_wall = sorted(rounds, key=lambda r, k=k: r[k][1])
            medians[k] = (by_wall[len(by_wall) // 2][k][0], med(k, 1), int(med(k, 2)),
                          med(k, 3), None)
        print(f"\nmedians of {len(rounds)} runs (each column alone; loads before each run: "
              f"{'; '.join(loads)})")
        syn_table(medians, size, median=True)
    return 0


SYN_MEMORY_NETS = ("127.34.0.0/24", "127.33.0.0/16", "127.32.0.0/12")


def syn_memory(args: argparse.Namespace) -> int:
    """netatlas --syn (and zmap) from a /24 to a /12, one port: peak RSS stays flat."""
    print(f"ports {args.ports} minus {args.exclude_ports}; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} on "
          f"{os.cpu_count()} CPUs")
    print(row("targets", "endpoints", "syn wall s", "syn probes/s", "syn RSS MiB",
              "zmap wall s", "zmap probes/s", "zmap RSS MiB"))
    for net in SYN_MEMORY_NETS:
        args.targets = net
        check_safe(args)
        size, _ = probe_stream(args.targets, args.ports, args.exclude_ports, args.seed)
        got = run_netatlas_method(args, "syn")
        zm = run_zmap(args) if not args.no_zmap else None
        if got is None:
            return 1
        _, wall, rss, _ = got
        zcols = (f"{zm[1]:.1f}", f"{size / zm[1]:,.0f}", f"{zm[2] / 1024:.1f}") if zm else (
            "-", "-", "-")
        print(row(net, size, f"{wall:.1f}", f"{size / wall:,.0f}", f"{rss / 1024:.1f}",
                  *zcols), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="127.20.0.0/24")
    ap.add_argument("--ports", default="1-10000")
    ap.add_argument("--exclude-ports", default=str(FORBIDDEN_PORT))
    ap.add_argument("--memory", action="store_true",
                    help="127.21.0.0/16 x 1-100, netatlas only: peak RSS and rate; with "
                         "--syn: netatlas --syn and zmap over a /24, a /16 and a /12")
    ap.add_argument("--syn", action="store_true",
                    help="netatlas --syn vs connect vs nmap -sS vs zmap (default "
                         "127.33.0.0/16 x port 80)")
    ap.add_argument("--no-zmap", action="store_true")
    ap.add_argument("--no-retry-column", action="store_true",
                    help="--syn: no '--syn --retries 0' column (zmap's terms: one probe, "
                         "the whole cooldown)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="--syn: run the whole comparison N times, then the medians")
    ap.add_argument("--method", default="connect", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=None)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--retries", type=int, default=1, help="like nmap --max-retries 1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--procs", type=int, default=1,
                    help="netatlas processes, one permutation shard each (DESIGN: shards)")
    ap.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    ap.add_argument("--no-nmap", action="store_true")
    ap.add_argument("--no-listeners", action="store_true")
    ap.add_argument("--listen", help="ip:port,... listeners to start (default: a few)")
    ap.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_listen", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._listen:
        child_listen(args._listen)
        return 0
    if args.syn and not args._child:
        given = {a.split("=")[0] for a in sys.argv[1:]}
        if "--targets" not in given:
            args.targets = "127.33.0.0/16"
        if "--ports" not in given:
            args.ports = "80"
        check_safe(args)
        return syn_memory(args) if args.memory else syn_compare(args)
    if args.memory:
        args.targets, args.ports = "127.21.0.0/16", "1-100"
    check_safe(args)
    if args._child:
        child_netatlas(args)
        return 0
    return memory(args) if args.memory else compare(args)


if __name__ == "__main__":
    sys.exit(main())
