"""The real lab: every service answers on its own address with its real protocol, binds
nothing else, shows the version the ground truth says, and stops when told.

Every read is bounded in size and time. Port 2024 is never touched.
"""

from __future__ import annotations

import re
import socket
import ssl
import struct
import time
from collections.abc import Iterator

import psutil
import pytest

from netatlas.lab import Lab, LabError, LabService
from netatlas.lab.certs import CERT_CN

pytestmark = pytest.mark.lab

_TIMEOUT = 5.0
_CAP = 65536


def by_name(services: list[LabService]) -> dict[str, LabService]:
    return {s.name: s for s in services}


def connect(svc: LabService) -> socket.socket:
    assert svc.port != 2024
    return socket.create_connection((svc.ip, svc.port), timeout=_TIMEOUT)


def read_until(sock: socket.socket | ssl.SSLSocket, pattern: bytes) -> bytes:
    """Read until ``pattern`` (a regex) matches, the peer closes, the cap or the deadline."""
    buf = b""
    deadline = time.monotonic() + _TIMEOUT
    while not re.search(pattern, buf) and len(buf) < _CAP:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def http_get(sock: socket.socket | ssl.SSLSocket, host: str) -> tuple[int, dict[str, str], str]:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    raw = read_until(sock, rb"</html>")
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body.decode("utf-8", "replace")


def no_verify() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed on purpose; we check the name ourselves
    return ctx


def cert_cn(tls: ssl.SSLSocket) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    der = tls.getpeercert(binary_form=True)
    assert der
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


# -- every service, its real protocol ---------------------------------------------------------

def test_all_running_with_versions(lab_up: list[LabService]) -> None:
    assert len(lab_up) >= 11
    for s in lab_up:
        assert s.running and s.pid, s
        assert s.version, s


def test_http(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["nginx-http"]
    with connect(svc) as sock:
        status, headers, body = http_get(sock, svc.ip)
    assert status == 200
    assert headers["server"] == f"nginx/{svc.version}"
    assert "<title>netatlas lab</title>" in body


def test_https_cert_and_page(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["nginx-https"]
    assert svc.tls
    with connect(svc) as raw, no_verify().wrap_socket(raw, server_hostname=CERT_CN) as tls:
        assert cert_cn(tls) == CERT_CN
        status, headers, body = http_get(tls, CERT_CN)
    assert status == 200
    assert headers["server"] == f"nginx/{svc.version}"
    assert "netatlas lab" in body


def test_http_on_non_standard_port(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["nginx-alt"]
    assert svc.port == 8081
    with connect(svc) as sock:
        status, headers, body = http_get(sock, svc.ip)
    assert status == 200 and headers["server"].startswith("nginx/")
    assert "<title>Lab admin console</title>" in body


@pytest.mark.parametrize("name", ["ssh", "ssh-alt"])
def test_ssh_banner(lab_up: list[LabService], name: str) -> None:
    svc = by_name(lab_up)[name]
    with connect(svc) as sock:
        banner = read_until(sock, rb"\r\n")
    assert banner.startswith(f"SSH-2.0-OpenSSH_{svc.version}".encode()), banner


def test_redis_open(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["redis"]
    with connect(svc) as sock:
        sock.sendall(b"PING\r\n")
        assert read_until(sock, rb"\r\n") == b"+PONG\r\n"
        sock.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        info = read_until(sock, rb"redis_version:[^\r]*\r\n")
    assert f"redis_version:{svc.version}\r\n".encode() in info


def test_redis_requires_auth(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["redis-auth"]
    assert svc.port == 7000 and not svc.version_visible
    with connect(svc) as sock:
        sock.sendall(b"PING\r\n")
        reply = read_until(sock, rb"\r\n")
    assert reply.startswith(b"-NOAUTH"), reply


def _ftp(sock: socket.socket, line: str) -> bytes:
    sock.sendall(line.encode() + b"\r\n")
    return read_until(sock, rb"(^|\n)\d{3} [^\r\n]*\r\n")


def test_ftp_anonymous_read_only_passive_on_own_address(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["ftp"]
    with connect(svc) as sock:
        greeting = read_until(sock, rb"\r\n")
        assert greeting.startswith(b"220 ")
        assert f"vsFTPd {svc.version}".encode() in greeting
        reply = _ftp(sock, "USER anonymous")
        if reply.startswith(b"331"):  # password wanted (any will do for anonymous)
            reply = _ftp(sock, "PASS lab@netatlas.test")
        assert reply.startswith(b"230"), reply
        pasv = _ftp(sock, "PASV")
        assert pasv.startswith(b"227"), pasv
        nums = [int(n) for n in re.search(rb"\((\d+(?:,\d+){5})\)", pasv).group(1).split(b",")]  # type: ignore[union-attr]
        data_ip, data_port = ".".join(map(str, nums[:4])), nums[4] * 256 + nums[5]
        assert data_ip == svc.ip and data_port != 2024
        with socket.create_connection((data_ip, data_port), timeout=_TIMEOUT) as data:
            sock.sendall(b"LIST\r\n")
            # 150 then 226 once the listing is sent: they may arrive in one read
            replies = read_until(sock, rb"(^|\n)226 [^\r\n]*\r\n")
            listing = read_until(data, rb"(?!)")  # never matches: read until close
        assert replies.startswith(b"150") and b"\n226 " in replies, replies
        assert listing == b""  # the anonymous root is empty
        assert _ftp(sock, "MKD x").startswith(b"550")  # read-only
        _ftp(sock, "QUIT")


def test_postgresql_ssl_request(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["postgresql"]
    with connect(svc) as sock:
        sock.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
        assert read_until(sock, rb".") == b"S"
        with no_verify().wrap_socket(sock, server_hostname=CERT_CN) as tls:
            assert cert_cn(tls) == CERT_CN


def test_memcached_version(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["memcached"]
    with connect(svc) as sock:
        sock.sendall(b"version\r\n")
        assert read_until(sock, rb"\r\n") == f"VERSION {svc.version}\r\n".encode()


def test_smtp_banner_starttls_and_no_relay(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["smtp"]
    with connect(svc) as sock:
        banner = read_until(sock, rb"\r\n")
        assert banner.startswith(b"220 ") and f"Exim {svc.version}".encode() in banner
        sock.sendall(b"EHLO scanner.netatlas.test\r\n")
        ehlo = read_until(sock, rb"(^|\n)250 [^\r\n]*\r\n")
        assert b"250-STARTTLS" in ehlo
        sock.sendall(b"MAIL FROM:<a@netatlas.test>\r\n")
        assert read_until(sock, rb"\r\n").startswith(b"250")
        sock.sendall(b"RCPT TO:<b@example.org>\r\n")
        assert read_until(sock, rb"\r\n").startswith(b"550")
        sock.sendall(b"QUIT\r\n")


# -- the services bench/identify.py measures (core=False) -------------------------------------

@pytest.mark.parametrize(("name", "server"), [("apache", "Apache/"), ("lighttpd", "lighttpd/")])
def test_web_servers_show_their_version(lab_up: list[LabService], name: str,
                                        server: str) -> None:
    svc = by_name(lab_up)[name]
    assert not svc.core
    with connect(svc) as sock:
        status, headers, _ = http_get(sock, svc.ip)
    assert status == 200
    assert headers["server"].startswith(f"{server}{svc.version}")


@pytest.mark.parametrize(("name", "greeting"), [("pop3", rb"\+OK Dovecot"),
                                                ("imap", rb"\* OK .*Dovecot")])
def test_dovecot_greets_without_version(lab_up: list[LabService], name: str,
                                        greeting: bytes) -> None:
    svc = by_name(lab_up)[name]
    with connect(svc) as sock:
        banner = read_until(sock, rb"\r\n")
    assert re.match(greeting, banner), banner
    assert svc.version and svc.version.encode() not in banner and not svc.version_visible


def test_mariadb_handshake(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["mariadb"]
    with connect(svc) as sock:
        head = read_until(sock, rb"\x00.{8}\x00")
    # packet header (3 length bytes, seq 0), protocol 10, NUL-terminated version string
    assert head[3] == 0 and head[4] == 10, head[:8]
    version = head[5:head.index(b"\x00", 5)].decode()
    assert re.fullmatch(rf"(5\.5\.5-)?{re.escape(svc.version or '')}-MariaDB\S*", version)


def test_mqtt_accepts_anonymous(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["mqtt"]
    client_id = b"netatlas-lab"
    # CONNECT, MQTT 3.1.1, clean session, keepalive 10 s, no credentials
    var = b"\x00\x04MQTT\x04\x02\x00\x0a" + struct.pack("!H", len(client_id)) + client_id
    with connect(svc) as sock:
        sock.sendall(b"\x10" + bytes([len(var)]) + var)
        connack = read_until(sock, rb"\x20\x02..")
    assert connack == b"\x20\x02\x00\x00", connack  # accepted


def _http_json(svc: LabService, path: str) -> dict[str, object]:
    import json

    with connect(svc) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {svc.ip}\r\nConnection: close\r\n\r\n"
                     .encode())
        raw = read_until(sock, rb"(?!)")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    if b"chunked" in head.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return json.loads(body)


def test_http_applications_show_versions(lab_up: list[LabService]) -> None:
    services = by_name(lab_up)
    etcd = _http_json(services["etcd"], "/version")
    assert etcd["etcdserver"] == services["etcd"].version
    prom = _http_json(services["prometheus"], "/api/v1/status/buildinfo")
    assert str(prom["data"]["version"]).startswith(services["prometheus"].version or "?")  # type: ignore[index]
    jupyter = _http_json(services["jupyter"], "/api")
    assert jupyter["version"] == services["jupyter"].version
    with connect(services["haproxy-stats"]) as sock:
        _, _, body = http_get(sock, services["haproxy-stats"].ip)
    assert f"HAProxy version {services['haproxy-stats'].version}" in body


def test_squid_denies_and_names_itself(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["squid"]
    with connect(svc) as sock:
        # a proxy request for a lab address: denied by policy before any lookup
        sock.sendall(b"GET http://127.20.0.2/ HTTP/1.1\r\nHost: 127.20.0.2\r\n"
                     b"Connection: close\r\n\r\n")
        head = read_until(sock, rb"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403"), head[:80]
    assert f"Server: squid/{svc.version}".encode() in head


def test_dnsmasq_tcp_version_bind(lab_up: list[LabService]) -> None:
    svc = by_name(lab_up)["dns"]
    qname = b"\x07version\x04bind\x00"
    query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 16, 3)
    with connect(svc) as sock:
        sock.sendall(struct.pack("!H", len(query)) + query)
        reply = read_until(sock, rb"dnsmasq-[\d.]+")
    assert reply[2:4] == b"\x12\x34"
    assert f"dnsmasq-{svc.version}".encode() in reply


@pytest.mark.parametrize("name", ["ssh-odd", "redis-odd", "memcached-odd"])
def test_well_known_services_on_odd_ports(lab_up: list[LabService], name: str) -> None:
    svc = by_name(lab_up)[name]
    with connect(svc) as sock:
        if svc.service == "ssh":
            assert read_until(sock, rb"\r\n").startswith(f"SSH-2.0-OpenSSH_{svc.version}".encode())
        elif svc.service == "redis":
            sock.sendall(b"PING\r\n")
            assert read_until(sock, rb"\r\n") == b"+PONG\r\n"
        else:
            sock.sendall(b"version\r\n")
            assert read_until(sock, rb"\r\n") == f"VERSION {svc.version}\r\n".encode()


# -- what the lab binds, and how it starts and stops -----------------------------------------

def _lab_processes(services: list[LabService]) -> Iterator[psutil.Process]:
    for pid in {s.pid for s in services if s.pid}:
        proc = psutil.Process(pid)
        yield proc
        yield from proc.children(recursive=True)


def test_binds_only_its_own_addresses(lab_up: list[LabService]) -> None:
    ips = {s.ip for s in lab_up}
    listening: set[tuple[str, int]] = set()
    for proc in _lab_processes(lab_up):
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue  # a per-connection child that just finished
        for c in conns:
            if c.status == psutil.CONN_LISTEN or (c.type == socket.SOCK_DGRAM and not c.raddr):
                assert c.laddr.ip not in ("0.0.0.0", "::"), (proc.name(), c)
                assert c.laddr.ip in ips, (proc.name(), c)
                listening.add((c.laddr.ip, c.laddr.port))
    assert {(s.ip, s.port) for s in lab_up} <= listening


def test_up_is_idempotent(running_lab: Lab, lab_up: list[LabService]) -> None:
    again = running_lab.up()
    assert [(s.name, s.pid) for s in again] == [(s.name, s.pid) for s in lab_up]


def _refused(svc: LabService) -> bool:
    try:
        socket.create_connection((svc.ip, svc.port), timeout=1.0).close()
    except OSError:
        return True
    return False


def test_down_then_up_again(running_lab: Lab) -> None:
    """Runs last in this file: stops the whole lab, proves it, and brings it back."""
    before = running_lab.status()
    pids = {s.pid for s in before if s.pid}
    running_lab.down()
    after = running_lab.status()
    assert not any(s.running for s in after)
    for pid in pids:
        assert pid is not None
        gone = not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        assert gone, pid
    still_open = [s.endpoint for s in before if not _refused(s)]
    assert not still_open

    # a port taken by someone else: up() names the service and the endpoint, and fails
    mc = by_name(before)["memcached"]
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((mc.ip, mc.port))
    squatter.listen()
    try:
        with pytest.raises(LabError, match=rf"memcached.*{re.escape(mc.ip)}:{mc.port}"):
            running_lab.up()
    finally:
        squatter.close()

    restarted = running_lab.up()
    assert all(s.running for s in restarted)
    assert not {s.pid for s in restarted} & pids
    with connect(by_name(restarted)["memcached"]) as sock:
        sock.sendall(b"version\r\n")
        assert read_until(sock, rb"\r\n").startswith(b"VERSION ")
