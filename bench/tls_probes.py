"""What the TLS extras cost and whether they see what nmap's ssl-enum-ciphers sees.

For every running lab endpoint that speaks TLS from the first byte: the extra connections
netatlas opens after its first handshake (version handshakes, raw hellos for SSLv3 and
weak suites, JARM's ten), their time, the whole grab with and without them, and
``nmap -Pn -n --script ssl-enum-ciphers`` on the same endpoint in the same run: its time
and the versions and weak cipher classes it lists, beside ours.

    .venv/bin/python bench/tls_probes.py                 # the lab of $NETATLAS_LAB_NET
    .venv/bin/python bench/tls_probes.py --runs 10 --no-nmap
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import time
import xml.etree.ElementTree as ET
from typing import Any

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.context import GrabContext
from netatlas.grab.protocols import tls_jarm, tls_probes
from netatlas.grab.protocols.tls import record_tls
from netatlas.lab.lab import Lab
from netatlas.model import Endpoint, GrabResult

FORBIDDEN_PORT = 2024
# nmap's IANA-style names -> our weak classes
NMAP_CLASSES = {"_NULL_": "NULL", "_anon_": "anonymous", "EXPORT": "EXPORT", "RC4": "RC4",
                "3DES": "3DES", "_DES_CBC_": "DES"}


class Counter:
    """Counts the extra connections by wrapping the three ways the extras open one."""

    def __init__(self) -> None:
        self.n = {"handshakes": 0, "hellos": 0, "jarm": 0}
        self._orig = (tls_probes.handshake, tls_probes.hello, tls_jarm._ask)

    def __enter__(self) -> Counter:
        hs, he, ja = self._orig

        async def handshake(*a: Any, **k: Any) -> Any:
            self.n["handshakes"] += 1
            return await hs(*a, **k)

        async def hello(*a: Any, **k: Any) -> Any:
            self.n["hellos"] += 1
            return await he(*a, **k)

        async def ask(*a: Any, **k: Any) -> Any:
            self.n["jarm"] += 1
            return await ja(*a, **k)

        tls_probes.handshake, tls_probes.hello, tls_jarm._ask = handshake, hello, ask
        return self

    def __exit__(self, *exc: object) -> None:
        tls_probes.handshake, tls_probes.hello, tls_jarm._ask = self._orig


async def extras_once(ip: str, port: int) -> tuple[float, dict[str, Any], dict[str, int]]:
    ctx = GrabContext(Endpoint(ip, port), GrabOptions(), GrabResult())
    try:
        conn = await ctx.open_plain()
        record_tls(ctx, await conn.start_tls(ctx.opts.read_timeout, None))
        with Counter() as c:
            t0 = time.perf_counter()
            await tls_probes.probe(ctx)
            return time.perf_counter() - t0, ctx.result.sections["ssl"], c.n
    finally:
        ctx.abort_all()


async def grab_time(ip: str, port: int, extras: bool) -> float:
    orig = tls_probes.probe

    async def nothing(ctx: GrabContext) -> None:
        return None

    if not extras:
        tls_probes.probe = nothing  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        await grab_endpoint(Endpoint(ip, port), GrabOptions())
        return time.perf_counter() - t0
    finally:
        tls_probes.probe = orig  # type: ignore[assignment]


def nmap_enum(ip: str, port: int) -> tuple[float, set[str], set[str]] | None:
    nmap = shutil.which("nmap")
    if nmap is None:
        return None
    t0 = time.perf_counter()
    out = subprocess.run([nmap, "-Pn", "-n", "--exclude-ports", str(FORBIDDEN_PORT), "-p",
                          str(port), "--script", "ssl-enum-ciphers", "-oX", "-", ip],
                         capture_output=True, timeout=300, check=False).stdout
    elapsed = time.perf_counter() - t0
    versions: set[str] = set()
    classes: set[str] = set()
    script = ET.fromstring(out).find(".//script[@id='ssl-enum-ciphers']")
    for table in script.findall("table") if script is not None else []:
        key = table.get("key", "")
        versions.add("TLSv1" if key == "TLSv1.0" else key)
        for elem in table.iter("elem"):
            if elem.get("key") == "name":
                classes |= {c for k, c in NMAP_CLASSES.items() if k in (elem.text or "")}
    return elapsed, versions, classes


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-nmap", action="store_true")
    args = ap.parse_args()
    targets = [s for s in Lab().status()
               if s.tls and s.running and s.transport == "tcp" and s.port != FORBIDDEN_PORT]
    if not targets:
        raise SystemExit("no running lab endpoint speaks TLS: netatlas lab up first")
    for s in targets:
        runs = [await extras_once(s.ip, s.port) for _ in range(args.runs)]
        ms = [1000 * r[0] for r in runs]
        section, counts = runs[0][1], runs[0][2]
        with_x = statistics.median([await grab_time(s.ip, s.port, True)
                                    for _ in range(args.runs)])
        without = statistics.median([await grab_time(s.ip, s.port, False)
                                     for _ in range(args.runs)])
        ours_v = {v for v in section.get("versions", []) if not v.startswith("-")}
        ours_c = set(section.get("weak_ciphers") or {})
        print(f"{s.name} {s.ip}:{s.port}")
        print(f"  netatlas extras: {sum(counts.values())} connections {counts}, "
              f"median {statistics.median(ms):.1f} ms (max {max(ms):.1f}); "
              f"whole grab {1000 * with_x:.0f} ms vs {1000 * without:.0f} ms without")
        print(f"  netatlas sees:   versions {sorted(ours_v)} weak {sorted(ours_c)} "
              f"jarm {section.get('jarm')}")
        nm = None if args.no_nmap else nmap_enum(s.ip, s.port)
        if nm is not None:
            t, versions, classes = nm
            agree = "agree" if (versions, classes) == (ours_v, ours_c) else "DIFFER"
            print(f"  nmap ssl-enum-ciphers: {1000 * t:.0f} ms, versions {sorted(versions)} "
                  f"weak {sorted(classes)} -> {agree}")


if __name__ == "__main__":
    asyncio.run(main())
