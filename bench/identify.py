"""netatlas identification vs ``nmap -sV`` on the lab: service, product, version, time.

    python bench/identify.py                 # start the lab, run both, print the tables
    python bench/identify.py --no-nmap       # netatlas only
    python bench/identify.py --json out.json # also write every figure and answer

Both scanners get the same targets (every lab address) and the same ports (every lab
port), port 2024 excluded whatever happens; they run one after the other in this run, so
neither slows the other. Each answer is scored against ``Lab().ground_truth()``. UDP
entries are scanned as ``U:`` ports (nmap then gets ``-sS -sU``; -sU needs root) and
answers are keyed by (address, port, transport): dnsmasq's 53/tcp and 53/udp are two.

Scoring (the same for both tools):
- service: names lowercased; a TLS tunnel prefix dropped ("ssl/http" -> "http", nmap's
  ``tunnel="ssl"``); aliases that name the same protocol merged ("https" -> "http",
  "postgres" -> "postgresql", "dns" -> "domain", "memcache" -> "memcached"). A port-table
  guess (nmap ``method="table"``) counts like any other answer: it is what nmap reports.
- product: case-insensitive, after mapping each tool's longer spellings to the canonical
  names of src/netatlas/identify/rules/README.md ("Redis key-value store" -> "Redis",
  "PostgreSQL DB" -> "PostgreSQL", "Exim smtpd" -> "Exim", "Dovecot pop3d" -> "Dovecot",
  "Squid http proxy" -> "Squid", ...). "MySQL" for a MariaDB server is wrong.
- version: case-insensitive; only the first word counts (nmap puts the distro after a
  space: "9.2p1 Debian 2+deb12u10" -> "9.2p1"), and semver build metadata is dropped
  ("2.42.0+ds" -> "2.42.0"); "5.5.5-10.11.19-MariaDB" stays as it is, i.e. wrong;
  right when equal to the truth, or when the truth starts with it at a dotted boundary
  ("15" for "15.18"). For services whose version the lab marks not visible without
  credentials, the version is scored only when the tool claims one (then it must be
  right); each tool's version % is over the services it is scored on, shown as n/d.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORBIDDEN_PORT = 2024  # belongs to something else on every loopback address
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
ROOT = Path(__file__).resolve().parents[1]
FINGERPRINTS = ROOT.parent / "shared" / "fingerprints"

SERVICE_ALIASES = {
    "https": "http", "http-alt": "http", "https-alt": "http", "www": "http",
    "postgres": "postgresql", "dns": "domain", "memcache": "memcached",
    "pop3s": "pop3", "imaps": "imap", "mariadb": "mysql",
}
PRODUCT_ALIASES = {
    "redis key-value store": "redis",
    "postgresql db": "postgresql",
    "exim smtpd": "exim",
    "dovecot pop3d": "dovecot",
    "dovecot imapd": "dovecot",
    "squid http proxy": "squid",
    "haproxy http proxy": "haproxy",
    "lighttpd httpd": "lighttpd",
    "eclipse mosquitto": "mosquitto",
    "mosquitto mqtt broker": "mosquitto",
    "jupyter notebook": "jupyter server",
    "jupyter": "jupyter server",
    "dnsmasq dns": "dnsmasq",
    "openssh sshd": "openssh",
    "vsftpd ftpd": "vsftpd",
    "net-snmp; net-snmp snmpv3 server": "net-snmp",  # nmap -sU joins its two matches
    "clickhouse dbms": "clickhouse",  # nmap's name for ClickHouse's native port
}


@dataclass(slots=True)
class Answer:
    service: str | None = None
    product: str | None = None
    version: str | None = None
    note: str = ""  # e.g. nmap's method="table"


@dataclass(slots=True)
class Run:
    tool: str
    wall: float
    answers: dict[tuple[str, int, str], Answer] = field(default_factory=dict)  # ip, port, tr
    error: str = ""


# -- normalisation and scoring --------------------------------------------------------------

def norm_service(name: str | None) -> str | None:
    if not name:
        return None
    n = name.strip().lower().removeprefix("ssl/").removeprefix("tls/")
    return SERVICE_ALIASES.get(n, n)


def norm_product(name: str | None) -> str | None:
    if not name:
        return None
    n = " ".join(name.strip().lower().split())
    return PRODUCT_ALIASES.get(n, n)


def norm_version(v: str | None) -> str | None:
    """The release alone: the first word (nmap writes "9.2p1 Debian 2+deb12u10"), without
    semver build metadata ("2.42.0+ds")."""
    words = (v or "").strip().lower().split()
    return words[0].split("+", 1)[0] or None if words else None


def version_right(found: str | None, truth: str | None) -> bool:
    f, t = norm_version(found), norm_version(truth)
    if not f or not t:
        return False
    return f == t or t.startswith(f + ".")


@dataclass(slots=True)
class Score:
    service: int = 0
    product: int = 0
    version: int = 0
    version_scored: int = 0
    total: int = 0

    def fraction(self, what: str) -> tuple[int, int]:
        """(right, scored) for "service", "product" or "version"."""
        return getattr(self, what), self.version_scored if what == "version" else self.total

    def pct(self, what: str) -> float:
        n, d = self.fraction(what)
        return 100.0 * n / d if d else 0.0


def score(run: Run, truth: list[Any]) -> tuple[Score, dict[str, tuple[bool, bool, bool | None]]]:
    """(totals, per service name: (service ok, product ok, version ok or None = unscored))."""
    sc = Score(total=len(truth))
    marks: dict[str, tuple[bool, bool, bool | None]] = {}
    for t in truth:
        a = run.answers.get((t.ip, t.port, t.transport), Answer())
        s_ok = norm_service(a.service) == norm_service(t.service)
        p_ok = norm_product(a.product) == norm_product(t.product)
        v_ok: bool | None = None
        if t.version_visible or a.version:
            v_ok = version_right(a.version, t.version)
            sc.version_scored += 1
            sc.version += v_ok
        sc.service += s_ok
        sc.product += p_ok
        marks[t.name] = (s_ok, p_ok, v_ok)
    return sc, marks


# -- the two scanners --------------------------------------------------------------------------

def run_netatlas(addrs: list[str], ports: str, net: str, timeout: float) -> Run:
    env = {**os.environ}
    if FINGERPRINTS.is_dir() and "NETATLAS_FINGERPRINTS" not in env:
        env["NETATLAS_FINGERPRINTS"] = str(FINGERPRINTS)
    cli = [sys.executable, "-m", "netatlas.cli.main"]
    with tempfile.TemporaryDirectory(prefix="netatlas-bench-") as tmp:
        env["NETATLAS_DB"] = str(Path(tmp) / "bench.db")
        t0 = time.monotonic()
        proc = subprocess.run([*cli, "scan", *addrs, "-p", ports, "--exclude-ports",
                               str(FORBIDDEN_PORT), "--allow", net, "--json"],
                              env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        wall = time.monotonic() - t0
        run = Run("netatlas", wall)
        if proc.returncode != 0:
            run.error = f"scan exited {proc.returncode}: {proc.stderr.strip()[-500:]}"
            return run
        found = subprocess.run([*cli, "search", f"net:{net}", "--json", "--limit", "100000"],
                               env=env, capture_output=True, text=True, timeout=120,
                               check=False)
    for line in found.stdout.splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        run.answers[(rec["ip_str"], int(rec["port"]), rec.get("transport", "tcp"))] = Answer(
            rec.get("service"), rec.get("product"), rec.get("version"))
    return run


def nmap_cmd(addrs: list[str], ports: str) -> list[str]:
    # UDP ports (U:...) need -sU, which needs root, and then TCP needs its scan type named
    udp = ["-sS", "-sU"] if "U:" in ports else []
    return ["nmap", "-sV", *udp, "-Pn", "-n", "-T4", "--exclude-ports", str(FORBIDDEN_PORT),
            "-p", ports, *addrs, "-oX", "-"]


def run_nmap(addrs: list[str], ports: str, timeout: float) -> Run:
    t0 = time.monotonic()
    proc = subprocess.run(nmap_cmd(addrs, ports), capture_output=True, text=True,
                          timeout=timeout, check=False)
    run = Run("nmap -sV", time.monotonic() - t0)
    if proc.returncode != 0:
        run.error = f"nmap exited {proc.returncode}: {proc.stderr.strip()[-500:]}"
        return run
    root = ET.fromstring(proc.stdout)
    for host in root.iter("host"):
        addr = host.find("address[@addrtype='ipv4']")
        if addr is None:
            continue
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            svc = port.find("service")
            a = Answer()
            if svc is not None:
                name = svc.get("name")
                if name and svc.get("tunnel") == "ssl":
                    name = "ssl/" + name
                a = Answer(name, svc.get("product"), svc.get("version"),
                           "table" if svc.get("method") == "table" else "")
            run.answers[(addr.get("addr", ""), int(port.get("portid", "0")),
                         port.get("protocol", "tcp"))] = a
    return run


# -- output ------------------------------------------------------------------------------------

def row(*cells: object, widths: tuple[int, ...] = (18, 16, 16, 14)) -> str:
    return "".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                   for i, (c, w) in enumerate(zip(cells, widths, strict=False)))


def summary(runs: list[tuple[Run, Score]]) -> None:
    (na, na_sc), nm = runs[0], (runs[1] if len(runs) > 1 else None)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    print(row("", na.tool, nm[0].tool if nm else "-", "netatlas/nmap"))
    for what in ("service", "product", "version"):
        a = na_sc.pct(what)
        b = nm[1].pct(what) if nm else 0.0
        na_n, na_d = na_sc.fraction(what)
        cell_b = "-"
        if nm:
            nm_n, nm_d = nm[1].fraction(what)
            cell_b = f"{b:.0f}% ({nm_n}/{nm_d})"
        print(row(f"{what} %", f"{a:.0f}% ({na_n}/{na_d})", cell_b,
                  ratio(a, b) if nm else "-"))
    print(row("wall time (s)", f"{na.wall:.1f}", f"{nm[0].wall:.1f}" if nm else "-",
              ratio(na.wall, nm[0].wall) if nm else "-"))
    if nm and na.wall:
        print(f"netatlas took {na.wall / nm[0].wall:.2f} of nmap's time "
              f"({nm[0].wall / na.wall:.1f}x faster); goal <= 0.20")


def cell(a: Answer, marks: tuple[bool, bool, bool | None]) -> str:
    def m(ok: bool | None) -> str:
        return "" if ok is None else ("+" if ok else "-")

    s_ok, p_ok, v_ok = marks
    parts = [f"{m(s_ok)}{a.service or '?'}", f"{m(p_ok)}{a.product or '?'}",
             f"{m(v_ok)}{a.version or ''}".strip()]
    return " | ".join(p for p in parts if p) + (" (port table)" if a.note == "table" else "")


def per_service(truth: list[Any], runs: list[tuple[Run, dict[str, Any]]]) -> None:
    print("\nper service (+ right, - wrong; a version without a mark is not scored)")
    for t in truth:
        vis = "" if t.version_visible else " (version hidden)"
        print(f"{t.name:<14} {t.ip}:{t.port:<6}{'/udp' if t.transport == 'udp' else ''} "
              f"truth: {t.service} | {t.product} | "
              f"{t.version}{vis}")
        for run, marks in runs:
            key = (t.ip, t.port, t.transport)
            a = run.answers.get(key, Answer(note=""))
            said = cell(a, marks[t.name]) if key in run.answers else "(not found)"
            print(f"{'':<14} {run.tool:<22} {said}")


# -- main --------------------------------------------------------------------------------------

def port_spec(truth: list[Any]) -> str:
    """Every lab port, TCP and UDP (``T:..,U:..`` once the lab has UDP entries)."""
    tcp = sorted({t.port for t in truth if t.transport != "udp"} - {FORBIDDEN_PORT})
    udp = sorted({t.port for t in truth if t.transport == "udp"} - {FORBIDDEN_PORT})
    if not udp:
        return ",".join(map(str, tcp))
    parts = [f"T:{','.join(map(str, tcp))}"] if tcp else []
    return ",".join([*parts, f"U:{','.join(map(str, udp))}"])


def check_safe(addrs: list[str], ports: list[int]) -> None:
    for a in addrs:
        if ipaddress.ip_address(a) not in LOOPBACK:
            raise SystemExit(f"refusing non-loopback target {a}")
    if FORBIDDEN_PORT in ports:
        raise SystemExit("port 2024 must never be scanned")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-nmap", action="store_true")
    ap.add_argument("--no-up", action="store_true", help="use the lab as it is (no Lab.up())")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per scanner, seconds")
    ap.add_argument("--json", type=Path, help="also write the figures and answers here")
    args = ap.parse_args()

    from netatlas.lab import Lab

    lab = Lab()
    truth = lab.status() if args.no_up else lab.up()
    down = [t.name for t in truth if not t.running]
    if down:
        print(f"not running (scored as misses): {', '.join(down)}", file=sys.stderr)
    addrs = sorted({t.ip for t in truth}, key=ipaddress.ip_address)
    port_list = sorted({t.port for t in truth} - {FORBIDDEN_PORT})
    check_safe(addrs, port_list)
    ports = port_spec(truth)
    print(f"lab: {len(truth)} services on {len(addrs)} addresses x {len(port_list)} ports "
          f"= {len(addrs) * len(port_list)} endpoints (port {FORBIDDEN_PORT} excluded)")

    runs = [run_netatlas(addrs, ports, lab.net, args.timeout)]
    if args.no_nmap:
        print("nmap: skipped (--no-nmap)")
    elif shutil.which("nmap") is None:
        print("nmap: not installed, netatlas figures only")
    else:
        print("running: " + " ".join(nmap_cmd(["<lab addresses>"], ports)))
        runs.append(run_nmap(addrs, ports, args.timeout))
    for r in runs:
        if r.error:
            print(f"{r.tool}: {r.error}", file=sys.stderr)

    scored = [(r, *score(r, truth)) for r in runs]
    print()
    summary([(r, sc) for r, sc, _ in scored])
    per_service(truth, [(r, marks) for r, _, marks in scored])
    extra = {k for r in runs for k in r.answers} - {(t.ip, t.port, t.transport) for t in truth}
    if extra:
        print(f"\nopen but not in the catalogue (not scored): "
              f"{', '.join(f'{ip}:{p}/{tr}' for ip, p, tr in sorted(extra))}")

    if args.json:
        args.json.write_text(json.dumps({
            "truth": [{"name": t.name, "ip": t.ip, "port": t.port, "service": t.service,
                       "product": t.product, "version": t.version,
                       "version_visible": t.version_visible} for t in truth],
            "runs": [{"tool": r.tool, "wall": r.wall, "error": r.error,
                      "score": {w: sc.pct(w) for w in ("service", "product", "version")},
                      "answers": {f"{ip}:{p}" + ("/udp" if tr == "udp" else ""):
                                  [a.service, a.product, a.version]
                                  for (ip, p, tr), a in r.answers.items()}}
                     for r, sc, _ in scored],
        }, indent=2))
    return 0 if not any(r.error for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
