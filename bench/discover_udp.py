"""netatlas UDP discovery vs ``nmap -sU`` on the lab's UDP services: speed and agreement.

    python bench/discover_udp.py                      # lab UDP addresses x U:1-1200 + lab ports
    python bench/discover_udp.py --ports 1-5000 --no-nmap

Targets are the addresses of the lab's UDP catalogue entries (the lab on
$NETATLAS_LAB_NET is started for them if needed); ports are ``--ports`` plus every lab UDP
port, 2024 always excluded. Both scanners get the same endpoints, one after the other,
each with one retry after silence (nmap ``--max-retries 1``). ``open`` counts only
endpoints that answered (nmap's ``open``, never ``open|filtered``). nmap -sU needs root.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

FORBIDDEN_PORT = 2024
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
UDP_LAB = ("snmp", "snmp-private", "ntp", "dns-udp")


def port_list(spec: str, extra: set[int]) -> list[int]:
    ports: set[int] = set(extra)
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        ports.update(range(int(lo), int(hi or lo) + 1))
    return sorted(ports - {FORBIDDEN_PORT})


def run_netatlas(addrs: list[str], ports: list[int], rate: float | None,
                 timeout: float) -> tuple[float, set[tuple[str, int]], dict[str, float]]:
    from netatlas.discover import UdpDiscoverer
    from netatlas.model import Endpoint

    probes = ((i, Endpoint(a, p, "udp"))
              for i, (a, p) in enumerate((a, p) for a in addrs for p in ports))

    async def main() -> tuple[float, set[tuple[str, int]], dict[str, float]]:
        d = UdpDiscoverer(rate=rate, timeout=timeout, retries=1)
        t0 = time.perf_counter()
        found = {(ep.ip, ep.port) async for _, ep in d.run(probes)}
        return time.perf_counter() - t0, found, d.stats.to_dict()

    return asyncio.run(main())


def run_nmap(addrs: list[str], ports: list[int],
             timeout: float) -> tuple[float, set[tuple[str, int]]]:
    cmd = ["nmap", "-sU", "-Pn", "-n", "-T4", "--max-retries", "1",
           "--exclude-ports", str(FORBIDDEN_PORT), "-p", "U:" + ",".join(map(str, ports)),
           *addrs, "-oX", "-"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=True)
    wall = time.perf_counter() - t0
    found = set()
    for host in ET.fromstring(proc.stdout).iter("host"):
        addr = host.find("address[@addrtype='ipv4']")
        for port in host.iter("port"):
            state = port.find("state")
            if addr is not None and state is not None and state.get("state") == "open":
                found.add((addr.get("addr", ""), int(port.get("portid", "0"))))
    return wall, found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ports", default="1-1200")
    ap.add_argument("--rate", type=float, default=None)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--no-nmap", action="store_true")
    args = ap.parse_args()

    from netatlas.lab import Lab

    lab = Lab()
    truth = [s for s in lab.up(UDP_LAB) if s.name in UDP_LAB and s.running]
    addrs = sorted({s.ip for s in truth}, key=ipaddress.ip_address)
    if any(ipaddress.ip_address(a) not in LOOPBACK for a in addrs):
        raise SystemExit("refusing non-loopback targets")
    ports = port_list(args.ports, {s.port for s in truth})
    n = len(addrs) * len(ports)
    want = {(s.ip, s.port) for s in truth}
    print(f"{len(addrs)} addresses x {len(ports)} UDP ports = {n} endpoints "
          f"(port {FORBIDDEN_PORT} excluded); lab UDP services: {len(want)}")

    wall, found, stats = run_netatlas(addrs, ports, args.rate, args.timeout)
    print(f"netatlas  {wall:7.2f} s  {n / wall:9.0f} endpoints/s  open {len(found)} "
          f"(lab {len(found & want)}/{len(want)})  closed {stats['closed']:.0f} "
          f"open|filtered {stats['filtered']:.0f}")
    if args.no_nmap or shutil.which("nmap") is None:
        return 0
    nwall, nfound = run_nmap(addrs, ports, args.timeout)
    print(f"nmap -sU  {nwall:7.2f} s  {n / nwall:9.0f} endpoints/s  open {len(nfound)} "
          f"(lab {len(nfound & want)}/{len(want)})")
    print(f"netatlas took {wall / nwall:.2f} of nmap's time; "
          f"only netatlas: {sorted(found - nfound)}; only nmap: {sorted(nfound - found)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
