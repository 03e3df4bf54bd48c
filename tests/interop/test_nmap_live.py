"""The real producer and the real consumers: Debian's nmap (``-sV -oX``) against a few
listeners this test starts on 127.20.13.7, imported and compared record by record with
netatlas's own scan of the same services; then netatlas's nmap XML export checked
against ``nmap.dtd`` (xmllint) and read by Debian's ``ndiff`` beside nmap's own file."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netatlas import pipeline
from netatlas.interop import import_file
from netatlas.store import open_store

HOST = "127.20.13.7"  # this suite's own loopback range (NETATLAS_LAB_NET=127.20.13.0/24)
FORBIDDEN_PORT = 2024
DTD = Path("/usr/share/nmap/nmap.dtd")

pytestmark = pytest.mark.skipif(shutil.which("nmap") is None, reason="needs Debian's nmap")


def _socket() -> socket.socket:
    while True:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, 0))
        if s.getsockname()[1] != FORBIDDEN_PORT:
            s.listen(16)
            return s
        s.close()


def _greet(conn: socket.socket, greeting: bytes) -> None:
    with conn:
        try:
            conn.sendall(greeting)
            conn.settimeout(2)
            conn.recv(1024)  # let the client speak (or hang up) before closing
        except OSError:
            pass


def _greeter(sock: socket.socket, greeting: bytes, stop: threading.Event) -> None:
    # each connection on its own thread: nmap -sV and netatlas both connect several
    # times, and on a loaded machine one slow client must not hold up the next
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        threading.Thread(target=_greet, args=(conn, greeting), daemon=True).start()


@pytest.fixture(scope="module")
def services() -> Iterator[dict[int, str]]:
    """port -> the service nmap and netatlas should both name."""
    stop = threading.Event()
    ssh, ftp = _socket(), _socket()
    web = http.server.ThreadingHTTPServer((HOST, 0), http.server.SimpleHTTPRequestHandler)
    if web.server_address[1] == FORBIDDEN_PORT:
        pytest.skip("the web listener drew port 2024")
    threads = [
        threading.Thread(target=_greeter, daemon=True, args=(
            ssh, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", stop)),
        threading.Thread(target=_greeter, daemon=True, args=(
            ftp, b"220 (vsFTPd 3.0.3)\r\n", stop)),
        threading.Thread(target=web.serve_forever, daemon=True),
    ]
    for t in threads:
        t.start()
    yield {ssh.getsockname()[1]: "ssh", ftp.getsockname()[1]: "ftp",
           web.server_address[1]: "http"}
    stop.set()
    web.shutdown()
    web.server_close()
    ssh.close()
    ftp.close()


@pytest.fixture(scope="module")
def nmap_xml(services: dict[int, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nmap") / "scan.xml"
    ports = ",".join(str(p) for p in sorted(services))
    subprocess.run(["nmap", "-sV", "-Pn", "-n", "-p", ports, "--exclude-ports",
                    str(FORBIDDEN_PORT), "-oX", str(out), HOST],
                   check=True, capture_output=True, timeout=240)
    return out


def test_nmap_import_matches_netatlas_scan(services: dict[int, str], nmap_xml: Path,
                                           tmp_path: Path) -> None:
    imported = open_store(tmp_path / "imported.db")
    report = import_file(imported, str(nmap_xml))
    assert (report.format, report.skipped, report.error) == ("nmap", 0, None)
    scanned = open_store(tmp_path / "scanned.db")
    cfg = pipeline.ScanConfig(targets=[HOST], ports=",".join(map(str, sorted(services))),
                              allow=["127.20.13.0/24"], exclude_ports=str(FORBIDDEN_PORT))
    scan, plan = pipeline.start_scan(scanned, cfg)
    asyncio.run(pipeline.run(scanned, scan, cfg, plan))
    scanned.flush()
    ours = {(r["ip_str"], r["port"]): r for r in scanned.iter_search("")}
    theirs = {(r["ip_str"], r["port"]): r for r in imported.iter_search("source:nmap")}
    assert set(ours) == set(theirs) == {(HOST, p) for p in services}
    for key, rec in theirs.items():
        assert rec["service"] == ours[key]["service"] == services[key[1]], (rec, ours[key])
        assert rec["source"] == "nmap" and rec["import"]["format"] == "nmap-xml"
    ssh_port = next(p for p, s in services.items() if s == "ssh")
    for rec in (theirs[(HOST, ssh_port)], ours[(HOST, ssh_port)]):
        assert rec["product"] == "OpenSSH" and rec["version"].startswith("9.2p1")
    assert imported.count("source:nmap product:openssh") == 1
    imported.close()
    scanned.close()


@pytest.mark.skipif(shutil.which("xmllint") is None or shutil.which("ndiff") is None
                    or not DTD.exists(), reason="needs xmllint, ndiff and nmap.dtd")
def test_nmap_export_is_valid_and_ndiff_reads_it(nmap_xml: Path, tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    import_file(store, str(nmap_xml))
    ours = tmp_path / "export.xml"
    from netatlas.cli.export import write_export

    assert write_export(store.iter_search(""), "nmap", str(ours)) == 3
    store.close()
    valid = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(DTD), str(ours)],
                           capture_output=True, text=True, timeout=60)
    assert valid.returncode == 0, valid.stderr
    diff = subprocess.run(["ndiff", str(nmap_xml), str(ours)], capture_output=True,
                          text=True, timeout=60)
    assert diff.returncode in (0, 1), diff.stderr
    changed = [line for line in diff.stdout.splitlines() if line[:1] in "+-"]
    # the same host, ports, states and service versions: only the run's header differs
    assert all(line[1:].startswith("Nmap ") for line in changed), diff.stdout
    same = subprocess.run(["ndiff", str(ours), str(ours)], capture_output=True, timeout=60)
    assert same.returncode == 0
