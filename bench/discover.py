"""netatlas discovery vs ``nmap -sT`` on loopback: speed, memory, agreement.

    python bench/discover.py [--targets 127.20.0.0/24] [--ports 1-10000] [--exclude-ports 2024]
    python bench/discover.py --memory      # 127.21.0.0/16 x 1-100: RSS and rate, netatlas only

Port 2024 is always excluded, whatever is asked. Targets must be loopback. Each scanner
runs in its own child process; peak RSS comes from that child's rusage (os.wait4). A few
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
import signal
import socket
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
    from netatlas.discover import Discoverer

    i, _, n = args.shard.partition("/")
    size, stream = probe_stream(args.targets, args.ports, args.exclude_ports, args.seed,
                                (int(i), int(n)))

    def guarded() -> Iterator:
        for pos, ep in stream:  # belt and braces: the safety rules, checked per probe
            if ep.port == FORBIDDEN_PORT or not ep.ip.startswith("127."):
                raise SystemExit(f"refusing to probe {ep}")
            yield pos, ep

    async def main() -> dict:
        d = Discoverer(rate=args.rate, concurrency=args.concurrency,
                       timeout=args.timeout, retries=args.retries)
        t0 = time.perf_counter()
        found = [[ep.ip, ep.port] async for _, ep in d.run(guarded())]
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
    out, wall, rss, rc = run_parallel([cmd])
    return out[0], wall, rss, rc


def run_parallel(cmds: list[list[str]]) -> tuple[list[bytes], float, int, int]:
    """Run cmds at once; (stdouts, wall until the last exits, peak RSS KiB summed over
    the processes, worst exit status). RSS comes from each child's own rusage."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE) for c in cmds]
    outs = [b""] * len(procs)

    def drain(k: int) -> None:
        stream = procs[k].stdout
        outs[k] = stream.read() if stream else b""

    readers = [threading.Thread(target=drain, args=(k,)) for k in range(len(procs))]
    for t in readers:
        t.start()
    rss, worst = 0, 0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        rss += usage.ru_maxrss
        worst = worst or p.returncode
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    return outs, wall, rss, worst


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
    outs, wall, rss, rc = run_parallel(cmds)
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
    cmd = [sys.executable, str(HERE), "--_child", "--shard", shard,
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


def row(name: str, *cols: object) -> str:
    return f"{name:<22}" + "".join(f"{c!s:>16}" for c in cols)


def compare(args: argparse.Namespace) -> int:
    listener = None
    if not args.no_listeners:
        ports = [p for p in _port_list(args.ports) if p != FORBIDDEN_PORT]
        spec = args.listen or default_listeners(args.targets, ports)
        listener = subprocess.Popen([sys.executable, str(HERE), "--_listen", spec],
                                    stdout=subprocess.PIPE, text=True)
        ready = listener.stdout.readline().strip() if listener.stdout else ""
        print(f"listeners (pid {listener.pid}): {ready.removeprefix('ready ') or 'none'}")
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="127.20.0.0/24")
    ap.add_argument("--ports", default="1-10000")
    ap.add_argument("--exclude-ports", default=str(FORBIDDEN_PORT))
    ap.add_argument("--memory", action="store_true",
                    help="127.21.0.0/16 x 1-100, netatlas only: peak RSS and rate")
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
    if args.memory:
        args.targets, args.ports = "127.21.0.0/16", "1-100"
    check_safe(args)
    if args._child:
        child_netatlas(args)
        return 0
    return memory(args) if args.memory else compare(args)


if __name__ == "__main__":
    sys.exit(main())
