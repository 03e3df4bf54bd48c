"""``netatlas import`` at scale: a generated Shodan ``json.gz`` and nmap XML of N
records each, read (parse only) and imported into a fresh SQLite store, beside
``zcat | wc -l`` (the floor: decompressing and counting lines), with each run's peak
RSS — at two sizes, so a flat memory line is visible.

    python bench/import.py                      # N = 1,000,000 (and 100,000 for the memory line)
    python bench/import.py --records 200000     # smaller
    python bench/import.py --store              # also import into SQLite (slower: the store)

Every run is its own child process; peak RSS is the largest sum over that child and
its descendants (the import's encoder processes), sampled every 20 ms. Addresses are
documentation ranges: nothing
is contacted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netatlas.lab.process import descendants, rss_kib

HERE = Path(__file__).resolve()
GOAL_RATE = 30_000  # records/s end to end (the interop issue)


def make_shodan(path: Path, n: int) -> None:
    with gzip.open(path, "wt", compresslevel=1) as f:
        for i in range(n):
            ip = f"198.{18 + (i >> 24 & 1)}.{i >> 8 & 255}.{i & 255}"
            f.write(json.dumps({
                "_shodan": {"module": "http", "id": str(i)}, "ip_str": ip,
                "port": 80 + (i >> 16 & 63), "transport": "tcp",
                "timestamp": f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.{i % 999999:06d}",
                "data": f"HTTP/1.1 200 OK\r\nServer: nginx/1.{i % 27}.0\r\n\r\n",
                "product": "nginx", "version": f"1.{i % 27}.0", "org": "Example",
                "location": {"country_code": "DE"},
                "http": {"status": 200, "title": f"page {i}", "server": "nginx"}}) + "\n")


def make_nmap(path: Path, n: int, ports_per_host: int = 64) -> None:
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" '
                'start="1700000000" version="7.93" xmloutputversion="1.05">\n')
        hosts = (n + ports_per_host - 1) // ports_per_host
        for h in range(hosts):
            ip = f"198.{18 + (h >> 16 & 1)}.{h >> 8 & 255}.{h & 255}"
            f.write(f'<host starttime="1700000000" endtime="1700000100"><status state="up" '
                    f'reason="syn-ack" reason_ttl="0"/><address addr="{ip}" addrtype="ipv4"/>'
                    "<hostnames></hostnames><ports>\n")
            for p in range(min(ports_per_host, n - h * ports_per_host)):
                f.write(f'<port protocol="tcp" portid="{1000 + p}"><state state="open" '
                        'reason="syn-ack" reason_ttl="64"/><service name="http" '
                        'product="nginx" version="1.22.1" method="probed" conf="10">'
                        "<cpe>cpe:/a:nginx:nginx:1.22.1</cpe></service></port>\n")
            f.write("</ports></host>\n")
        f.write('<runstats><finished time="1700000200" elapsed="200"/>'
                '<hosts up="1" down="0" total="1"/></runstats></nmaprun>\n')


_PARSE = """
import sys
from netatlas.interop._input import open_input
from netatlas.interop.importer import read_items
from netatlas.interop.sniff import sniff
from netatlas.model import Observation
inp = open_input(sys.argv[1])
n = sum(1 for i in read_items(inp, sniff(inp.head)) if isinstance(i, Observation))
print(n)
"""


def run(cmd: list[str], shell: bool = False) -> tuple[float, int, float, str]:
    """(seconds, peak RSS in MiB, CPU seconds, stdout) of one child process. Peak RSS is
    the largest sum over the child and its descendants (an import's encoder processes),
    sampled every 20 ms: wait4's ru_maxrss would miss the workers (it is a max, not a
    sum) and start from this process's own RSS (Linux carries it over at exec). CPU is
    user + system of the child and every descendant it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out_file:
        proc = subprocess.Popen(cmd if not shell else cmd[0], shell=shell,
                                stdout=out_file, stderr=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, sum(map(rss_kib, [proc.pid, *descendants(proc.pid)])))
            time.sleep(0.02)
        secs = time.perf_counter() - t0
        out_file.seek(0)
        out = out_file.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {cmd}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return secs, peak // 1024, cpu, out.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000, help="the memory line's other size")
    ap.add_argument("--store", action="store_true", help="also import into a SQLite store")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netatlas-import-bench-") as tmp:
        rows = []
        for n in sorted({args.small, args.records}):
            shodan, nmap = Path(tmp) / f"shodan-{n}.json.gz", Path(tmp) / f"nmap-{n}.xml"
            make_shodan(shodan, n)
            make_nmap(nmap, n)
            for label, path in (("shodan json.gz", shodan), ("nmap XML", nmap)):
                size = path.stat().st_size / 2**20
                if path.suffix == ".gz":
                    floor = run([f"zcat {path} | wc -l"], shell=True)
                    rows.append((label, n, size, "zcat | wc -l", *floor))
                else:
                    floor = run([f"wc -l < {path}"], shell=True)
                    rows.append((label, n, size, "wc -l", *floor))
                parse = run([sys.executable, "-c", _PARSE, str(path)])
                assert int(parse[3]) == n, (label, parse[3], n)
                rows.append((label, n, size, "netatlas parse", *parse))
                if args.store and n == args.records:
                    db = Path(tmp) / f"{label.split()[0]}-{n}.db"
                    imp = run([sys.executable, "-m", "netatlas.cli.main", "import", str(path),
                               "--db", str(db), "--json"])
                    assert json.loads(imp[3])["imported"] == n
                    rows.append((label, n, size, "netatlas import (SQLite)", *imp))
        cores = os.cpu_count() or 1
        print(f"{'input':16} {'records':>9} {'MiB':>7}  {'run':26} {'s':>7} {'rec/s':>9}"
              f" {'peak RSS':>9} {'CPU us/rec':>10}")
        for label, n, size, what, secs, rss, cpu, _ in rows:
            print(f"{label:16} {n:>9,} {size:>7.1f}  {what:26} {secs:>7.1f}"
                  f" {n / secs:>9,.0f} {rss:>6} MiB {cpu / n * 1e6:>10,.1f}")
        print(f"CPU us/rec: user + system over every process of the run. {GOAL_RATE:,} rec/s"
              f" on this machine's {cores} cores leaves {cores * 1e6 / GOAL_RATE:,.0f} us a"
              " record, however the work is spread.")


if __name__ == "__main__":
    main()
