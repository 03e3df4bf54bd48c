"""The hostile range, scanned once per session by the real ``netatlas scan`` (two
subprocesses side by side, the peak RSS of each taken from the kernel), with the
outputs a user would see on a terminal (a pty). The figures (servers tried / survived
/ failed per category, peak RSS, fuzz queries) are printed at the end of the run:
``pytest tests/hostile``."""

from __future__ import annotations

import html
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from netatlas.lab.process import peak_rss_kib
from tests.hostile import servers as s
from tests.hostile.udp_servers import UDP_CATEGORY

# a title that is markup once unescaped: the web UI must show it as text
SCRIPT = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"
# a title that is a formula once in a spreadsheet
FORMULA = '=HYPERLINK("http://127.20.71.1/","click")'
SCAN_HANG_GUARD = 300.0  # seconds: only against a hang, not a speed assertion
CLI_HANG_GUARD = 120.0


# every hostile server and its category (the figures are counted by category)
CATEGORY = {
    "tarpit": "silence", "half-open-tls": "silence",
    "endless-banner": "endless", "endless-lines": "endless", "endless-1xx": "endless",
    "endless-103": "endless", "endless-chunked": "endless", "header-flood": "endless",
    "header-flood-finite": "endless", "tls-garbage": "endless",
    "trickle-http": "slow", "trickle-banner": "slow",
    "gzip-bomb": "bomb", "huge-cert": "cert", "oversized-cert": "cert",
    "cert-escapes": "escapes", "banner-escapes": "escapes", "ssh-escapes": "escapes",
    "http-escapes": "escapes", "http-script": "escapes", "csv-formula": "escapes",
    "banner-bytes": "bytes", "http-bytes": "bytes",
    "redirect-out": "redirect", "redirect-localhost": "redirect",
    "redirect-scheme-relative": "redirect", "links-out": "redirect",
    **{name: "protocol" for name in (
        "ssh-huge-packet", "ssh-endless-prelines", "ftp-endless-feat", "smtp-endless-ehlo",
        "redis-huge-bulk", "mysql-huge-packet", "pg-huge-message", "telnet-iac-flood",
        "vnc-endless", "memcached-endless-stats", "h2-settings-flood", "h2-continuation-flood")},
}


def catalog(tmp: Path, outside_port: int, localhost_port: int) -> list[s.Hostile]:
    out = f"http://{s.OUTSIDE}:{outside_port}/"
    page = (f'<html><head><title>redirected</title><link rel="icon" href="{out}favicon.ico">'
            f'<meta http-equiv="refresh" content="0;url={out}"></head>'
            f'<body><a href="{out}">x</a><img src="{out}i.png"></body></html>').encode()
    esc = s.ESCAPES
    http_escapes = s.http_response(
        headers=[("Server", f"nginx/1.25.3 {esc}"), ("X-Evil", esc),
                 ("Content-Type", "text/html")],
        body=f"<html><head><title>{esc}</title></head><body>{esc}</body></html>".encode())
    http_bytes = s.http_response(
        headers=[("Content-Type", "text/html")],
        raw_headers=b"Server: srv" + s.BAD_BYTES + b"\r\nX-Bytes: " + s.BAD_BYTES + b"\r\n",
        body=b"<title>t" + s.BAD_BYTES + b"</title>" + s.BAD_BYTES)
    tls_page = s.http_response(headers=[("Content-Type", "text/html")],
                               body=f"<title>{esc}</title>".encode())

    def H(name: str, handler: s.Handler, tls: Any = None) -> s.Hostile:
        return s.Hostile(name, CATEGORY[name], handler, tls)

    return [
        H("tarpit", s.tarpit()),
        H("half-open-tls", s.half_open_tls()),
        H("endless-banner", s.endless(b"220 ", b"A")),
        H("endless-lines", s.endless(b"", b"220-welcome, and more\r\n")),
        H("endless-1xx",
          s.endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n", read_first=True)),
        H("endless-103",
          s.endless(b"", b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                    read_first=True)),
        H("endless-chunked",
          s.endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    b"Content-Type: text/html\r\n\r\n<title>chunks</title>",
                    b"1000\r\n" + b"<p>" * 1365 + b"x\r\n", read_first=True)),
        H("header-flood",
          s.endless(b"HTTP/1.1 200 OK\r\n", b"X-Flood: " + b"a" * 90 + b"\r\n",
                    read_first=True)),
        H("header-flood-finite",
          s.respond(s.http_response(raw_headers=b"".join(
              b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(50_000)),
              body=b"<title>after the flood</title>"))),
        H("tls-garbage", s.tls_garbage()),
        H("trickle-http", s.trickle(
            s.http_response(headers=[("Server", "slow")], body=b"<title>slow</title>"),
            0.3, read_first=True)),
        H("trickle-banner", s.trickle(b"SSH-2.0-Slow_1.0\r\n", 0.4)),
        H("gzip-bomb", s.respond(s.http_response(
            headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
            body=s.gzip_bomb()))),
        H("huge-cert", s.respond(tls_page),
          tls=s.hostile_cert(tmp, "huge", cn="huge" + esc, sans=1400)),  # ~90 kB
        H("oversized-cert", s.respond(tls_page),  # ~400 kB: past what TLS clients take
          tls=s.hostile_cert(tmp, "oversized", cn="over" + esc, sans=6000)),
        H("cert-escapes", s.respond(tls_page),
          tls=s.hostile_cert(tmp, "esc", cn="cn" + esc, extra_subject="org" + esc)),
        H("banner-escapes",
          s.respond(b"220 " + esc.encode() + b" FTP ready\r\n", read_first=False)),
        H("ssh-escapes",
          s.respond(b"SSH-2.0-Open" + esc.encode() + b"\r\n", read_first=False)),
        H("http-escapes", s.respond(http_escapes)),
        H("http-script", s.respond(s.http_response(
            headers=[("Content-Type", "text/html"), ("Server", f"evil\u202e {SCRIPT}")],
            body=f"<title>{html.escape(SCRIPT)}{esc}</title>".encode()))),
        H("csv-formula", s.respond(s.http_response(
            headers=[("Content-Type", "text/html")],
            body=f"<title>{html.escape(FORMULA)}</title>".encode())),
          tls=s.hostile_cert(tmp, "formula", cn="@SUM(1+1)*cmd")),
        H("banner-bytes",
          s.respond(b"220 " + s.BAD_BYTES + b" ready\r\n", read_first=False)),
        H("http-bytes", s.respond(http_bytes)),
        H("redirect-out", s.respond(s.http_response(
            "302 Found", [("Location", out), ("Refresh", f"0; url={out}"),
                          ("Content-Type", "text/html")], page))),
        H("redirect-localhost", s.respond(s.http_response(
            "301 Moved Permanently", [("Location", f"http://localhost:{localhost_port}/")]))),
        H("redirect-scheme-relative", s.respond(s.http_response(
            "308 Permanent Redirect", [("Location", f"//{s.OUTSIDE}:{outside_port}/x")]))),
        H("links-out", s.respond(s.http_response(
            headers=[("Content-Type", "text/html"), ("Link", f"<{out}>; rel=preload")],
            body=page))),
        *_protocols(tmp, H),
    ]


def _protocols(tmp: Path, H: Any) -> list[s.Hostile]:
    """Protocol-shaped abuse: a greeting the scanner recognises, then lengths that
    promise gigabytes, or replies that never end."""
    e = s.endless
    noise = os.urandom(4096)
    h2 = s.hostile_cert(tmp, "h2", cn="h2.hostile.test")
    h2.set_alpn_protocols(["h2", "http/1.1"])
    settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame
    # HEADERS on stream 1 without END_HEADERS, then 16 KiB CONTINUATION frames for ever
    headers = b"\x00\x00\x01\x01\x00\x00\x00\x00\x01\x82"
    continuation = b"\x00\x40\x00\x09\x00\x00\x00\x00\x01" + b"\x40\x01a\x01b" * 3276 + b"\x40\x01a"
    return [
        H("ssh-huge-packet", e(b"", noise, greeting=b"SSH-2.0-OpenSSH_9.6\r\n"
                               + struct.pack(">IB", 0x7FFFFFF0, 10) + b"\x14")),
        H("ssh-endless-prelines", e(b"", b"a line before the SSH ident\r\n")),
        H("ftp-endless-feat", e(b"211-Features:\r\n", b" MDTM\r\n",
                                greeting=b"220 FTP server ready\r\n")),
        H("smtp-endless-ehlo", e(b"", b"250-PIPELINING\r\n",
                                 greeting=b"220 mail.hostile.test ESMTP\r\n")),
        H("redis-huge-bulk", e(b"$2147483647\r\n", b"a", read_first=True)),
        H("mysql-huge-packet", e(b"", noise, greeting=b"\xff\xff\xff\x00\x0a8.0.36\x00")),
        H("pg-huge-message", e(b"R\x7f\xff\xff\xff", noise, read_first=True)),
        H("telnet-iac-flood", e(b"", b"\xff\xfb\x01\xff\xfd\x18\xff\xfa\x18\x01")),
        H("vnc-endless", e(b"\xff", noise, greeting=b"RFB 003.008\n")),
        H("memcached-endless-stats", e(b"", b"STAT pid 1\r\n", read_first=True)),
        H("h2-settings-flood", e(settings, settings, read_first=True), tls=h2),
        H("h2-continuation-flood", e(settings + headers, continuation, read_first=True),
          tls=h2),
    ]


@dataclass
class Scanned:
    range: s.Range
    db: Path
    returncode: int
    peak_rss_mb: float
    seconds: float
    stdout: str
    stderr: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def record(self, name: str) -> dict[str, Any] | None:
        ip = self.range.servers[name].ip
        return next((r for r in self.records if r["ip_str"] == ip), None)


def run_measured(argv: list[str], env: dict[str, str], out: Path,
                 timeout: float) -> tuple[int, float, float]:
    """Run ``argv`` (stdout/stderr to ``out``.stdout/.stderr); (exit code, peak RSS in
    MB of that process alone, seconds). A process past ``timeout`` is killed (by its
    PID) and the test fails: a hang guard, not a speed limit."""
    with open(f"{out}.stdout", "wb") as o, open(f"{out}.stderr", "wb") as e:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=o, stderr=e, env=env)
        timer = threading.Timer(timeout, proc.send_signal, (signal.SIGKILL,))
        timer.start()
        peak_kb = 0
        try:
            while True:
                pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                peak_kb = max(peak_kb, peak_rss_kib(proc.pid))
                time.sleep(0.05)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
    if proc.returncode == -signal.SIGKILL and seconds >= timeout:
        pytest.fail(f"{argv[3:5]} still running after {timeout:.0f} s: a hang")
    return proc.returncode, peak_kb / 1024, seconds


def netatlas_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "netatlas.cli.main", *args]


def on_terminal(args: list[str], db: Path, timeout: float = CLI_HANG_GUARD) -> tuple[int, str]:
    """Run a netatlas command with its stdout on a pseudo-terminal (what ``isatty``
    says of a real one) and a colour TERM; (exit code, what the terminal received)."""
    master, slave = pty.openpty()
    env = {**os.environ, "NETATLAS_DB": str(db), "TERM": "xterm-256color", "COLUMNS": "220"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(netatlas_argv(*args), stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            pytest.fail(f"netatlas {args} still writing after {timeout:.0f} s")
        proc.wait(timeout=30)
    finally:
        os.close(master)
    assert proc.stderr is not None
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    text = b"".join(chunks).decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise AssertionError(f"netatlas {args} -> {proc.returncode}\n{text}\n{err}")
    return proc.returncode, text


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    tmp = tmp_path_factory.mktemp("hostile")
    outside_sock = s.listener(s.OUTSIDE)
    localhost_sock = s.listener("127.0.0.1")
    hostiles = catalog(tmp, outside_sock.getsockname()[1], localhost_sock.getsockname()[1])
    # the two listeners answer like a real web server: if anything followed a redirect
    # or a link, it would be counted, and rewarded with a page
    ok = s.respond(s.http_response(body=b"<title>out of scope</title>"))
    outside = {"outside": (outside_sock, ok), "localhost": (localhost_sock, ok)}
    with s.serve_range(hostiles, outside) as rng:
        db = tmp / "hostile.db"
        # Two scans at once, each with its own store: the servers whose data the tests
        # read back (escapes, bad bytes, redirects), and the ones that only try to hog
        # the scanner, so that the hogs' time-outs do not decide what the others keep.
        groups = [[h.ip for h in rng.servers.values() if (h.category in CONTENT) == first]
                  for first in (True, False)]
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(_scan, ips, rng.port, tmp / f"scan{i}.db", tmp / f"scan{i}")
                       for i, ips in enumerate(groups)]
            runs = [f.result() for f in futures]
        _merge([tmp / "scan0.db", tmp / "scan1.db"], db)
        code = max((r[0] for r in runs), key=abs)
        scan = Scanned(range=rng, db=db, returncode=code,
                       peak_rss_mb=max(r[1] for r in runs),
                       seconds=sum(r[2] for r in runs),
                       stdout="".join(r[3] for r in runs), stderr="".join(r[4] for r in runs))
        if code == 0:
            proc = subprocess.run(netatlas_argv("export", "", "--format", "jsonl", "--db",
                                                str(db)),
                                  capture_output=True, timeout=CLI_HANG_GUARD)
            assert proc.returncode == 0, proc.stderr
            # to a pipe: the data as stored, raw bytes and all. Lines are split at "\n"
            # only: str.splitlines() would also cut at U+0085 / U+2028 inside a string
            scan.records = [json.loads(line) for line in proc.stdout.decode().split("\n")
                            if line.strip()]
        time.sleep(0.5)  # a late follow-up would still be counted
        FIGURES["scan"] = {"peak_rss_mb": [round(r[1], 1) for r in runs],
                           "seconds": [round(r[2], 1) for r in runs],
                           "servers": len(rng.servers), "records": len(scan.records),
                           "connections": sum(h.counter.connections
                                              for h in rng.servers.values()),
                           "outside_connections": {k: c.connections
                                                   for k, c in rng.outside.items()}}
        yield scan


CONTENT = ("escapes", "bytes", "redirect")  # categories scanned on their own


def _merge(sources: list[Path], target: Path) -> None:
    """One store for the read commands: ``netatlas store copy`` of each scan's."""
    for source in sources:
        proc = subprocess.run(netatlas_argv("store", "copy", "--from", str(source),
                                            "--to", str(target)),
                              capture_output=True, timeout=CLI_HANG_GUARD)
        assert proc.returncode == 0, proc.stderr


def _scan(ips: list[str], port: int, db: Path,
          out: Path) -> tuple[int, float, float, str, str]:
    """``netatlas scan`` of ``ips`` on ``port``, each address its own /32 in the allow
    list and nothing else: (exit code, peak RSS MB, seconds, stdout, stderr)."""
    allow = [arg for ip in ips for arg in ("--allow", f"{ip}/32")]
    argv = netatlas_argv("scan", *ips, "-p", str(port), *allow, "--exclude-ports",
                         str(s.FORBIDDEN_PORT), "--json", "--db", str(db))
    code, rss, seconds = run_measured(argv, dict(os.environ), out, SCAN_HANG_GUARD)
    return (code, rss, seconds, Path(f"{out}.stdout").read_text("utf-8", "replace"),
            Path(f"{out}.stderr").read_text("utf-8", "replace"))


# --- figures ------------------------------------------------------------------------------

FIGURES: dict[str, Any] = {}
FUZZ: dict[str, Counter[str]] = {}  # front -> outcome -> queries


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows: dict[str, list[int]] = {}
    for outcome in ("passed", "failed", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            udp = "::test_hostile_udp_server[" in nodeid
            if "::test_hostile_server[" not in nodeid and not udp:
                continue
            if outcome != "error" and rep.when != "call":
                continue
            name = nodeid.rsplit("[", 1)[1].rstrip("]")
            category = f"udp {UDP_CATEGORY.get(name, '?')}" if udp else CATEGORY.get(name, "?")
            row = rows.setdefault(category, [0, 0, 0])
            row[0] += 1
            row[1 if outcome == "passed" else 2] += 1
    if not rows and not FIGURES and not FUZZ:
        return
    tr = terminalreporter
    tr.section("hostile suite figures")
    for cat, (tried, survived, failed) in sorted(rows.items()):
        tr.write_line(f"servers {cat:<14} tried {tried:>3}  survived {survived:>3}  "
                      f"failed {failed:>3}")
    if "scan" in FIGURES:
        tr.write_line("scan: " + json.dumps(FIGURES["scan"]))
    for key in sorted(k for k in FIGURES if k != "scan"):
        tr.write_line(f"{key}: {json.dumps(FIGURES[key])}")
    for name, outcomes in sorted(FUZZ.items()):
        tr.write_line(f"fuzz {name:<24} queries {sum(outcomes.values()):>5}  "
                      f"results {outcomes['result']:>5}  clear errors "
                      f"{outcomes['clear error']:>5}  (no 5xx, no traceback)")
