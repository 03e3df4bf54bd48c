"""Reading is streaming: a file ten times larger needs no more memory (peak RSS of a
child process reading 10k and then 100k generated records of each format)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

READ = """
import sys
from netatlas.interop._input import open_input
from netatlas.interop.importer import read_items
from netatlas.interop.sniff import sniff
from netatlas.model import Observation
inp = open_input(sys.argv[1])
n = sum(1 for i in read_items(inp, sniff(inp.head)) if isinstance(i, Observation))
# VmHWM: this address space's own peak (ru_maxrss would start from the parent's at exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(n, hwm)
"""


def _shodan(path: Path, n: int) -> None:
    with gzip.open(path, "wt", compresslevel=1) as f:
        for i in range(n):
            f.write(json.dumps({"_shodan": {"module": "http"}, "ip_str":
                                f"198.18.{i >> 8 & 255}.{i & 255}", "port": 80 + (i >> 16),
                                "timestamp": "2024-01-01T00:00:00", "data": "x" * 200,
                                "http": {"title": f"t{i}"}}) + "\n")


def _nmap(path: Path, n: int) -> None:
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?>\n<nmaprun scanner="nmap" start="1700000000">\n')
        for h in range(n // 50):
            f.write(f'<host><status state="up"/><address addr="198.18.{h >> 8 & 255}.'
                    f'{h & 255}" addrtype="ipv4"/><ports>')
            f.writelines(f'<port protocol="tcp" portid="{1000 + p}"><state state="open"/>'
                         '<service name="http" product="nginx"/></port>' for p in range(50))
            f.write("</ports></host>\n")
        f.write("</nmaprun>\n")


def _peak_rss_mib(path: Path, expected: int) -> float:
    proc = subprocess.Popen([sys.executable, "-c", READ, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    count, hwm_kib = proc.stdout.read().split()
    assert proc.wait() == 0
    assert int(count) == expected
    return int(hwm_kib) / 1024


@pytest.mark.parametrize("make", [_shodan, _nmap], ids=["shodan", "nmap"])
def test_memory_does_not_grow_with_the_file(make: object, tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    make(small, 10_000)  # type: ignore[operator]
    make(large, 100_000)  # type: ignore[operator]
    grew = _peak_rss_mib(large, 100_000) - _peak_rss_mib(small, 10_000)
    assert grew < 8, f"peak RSS grew {grew:.1f} MiB for 10x the records"
