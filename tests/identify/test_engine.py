"""Engine tests on grab results shaped as the grabbers fill them (lab products)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netatlas.identify import Identifier
from netatlas.identify.nmap_probes import DEFAULT_PATH
from netatlas.model import Endpoint, GrabResult

HAS_NMAP = DEFAULT_PATH.is_file()
needs_nmap = pytest.mark.skipif(not HAS_NMAP, reason="nmap-service-probes not installed")

NGINX_RAW = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 615\r\nConnection: close\r\n\r\n"
    b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head></html>\n"
)
SSH_LINE = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"


def ep(port: int) -> Endpoint:
    return Endpoint("127.20.0.1", port)


def nginx_result() -> GrabResult:
    return GrabResult(
        service="http", data=NGINX_RAW, responses={"GetRequest": NGINX_RAW},
        sections={"http": {"status": 200, "title": "Welcome to nginx!", "server": "nginx/1.22.1",
                           "headers": {"server": "nginx/1.22.1", "content-type": "text/html"},
                           "html": "<!DOCTYPE html>..."}},
    )


def ssh_result() -> GrabResult:
    return GrabResult(
        service="ssh", data=SSH_LINE, responses={"NULL": SSH_LINE},
        sections={"ssh": {"version_string": SSH_LINE.decode().strip(), "proto": "2.0",
                          "software": "OpenSSH_9.2p1", "comment": "Debian-2+deb12u3"}},
    )


@pytest.fixture(scope="module")
def own() -> Identifier:
    """Our rules only: results must not depend on whether nmap is installed."""
    return Identifier(nmap=None)


@pytest.fixture(scope="module")
def full() -> Identifier:
    return Identifier()


# -- lab products, own rules -----------------------------------------------------

def test_nginx(own: Identifier) -> None:
    i = own.identify(nginx_result(), ep(80))
    assert (i.service, i.product, i.version) == ("http", "nginx", "1.22.1")
    assert i.cpe == ["cpe:/a:f5:nginx:1.22.1"]
    assert i.source == "netatlas"


def test_openssh_debian(own: Identifier) -> None:
    i = own.identify(ssh_result(), ep(22))
    assert (i.service, i.product, i.version) == ("ssh", "OpenSSH", "9.2p1")
    assert (i.os, i.info) == ("Linux", "Debian")
    assert i.cpe == ["cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:debian:debian_linux:12"]


def test_redis_info(own: Identifier) -> None:
    g = GrabResult(service="redis", data=b"$1234\r\n# Server\r\nredis_version:7.0.15\r\n",
                   sections={"redis": {"auth_required": False, "truncated": False, "info": {
                       "redis_version": "7.0.15", "redis_mode": "standalone",
                       "os": "Linux 6.1.0-13-amd64 x86_64", "arch_bits": "64"}}})
    i = own.identify(g, ep(6379))
    assert (i.service, i.product, i.version, i.os) == ("redis", "Redis", "7.0.15", "Linux")
    assert i.cpe == ["cpe:/a:redis:redis:7.0.15"]
    assert i.tags == ["database"]


def test_redis_auth_required(own: Identifier) -> None:
    g = GrabResult(service="redis", data=b"-NOAUTH Authentication required.\r\n",
                   sections={"redis": {"auth_required": True, "info": {}}})
    i = own.identify(g, ep(6379))
    assert (i.product, i.version, i.cpe) == ("Redis", None, ["cpe:/a:redis:redis"])


def test_vsftpd(own: Identifier) -> None:
    for banner in ("(vsFTPd 3.0.3)", "220 (vsFTPd 3.0.3)"):
        g = GrabResult(service="ftp", data=b"220 (vsFTPd 3.0.3)\r\n",
                       sections={"ftp": {"banner": banner, "code": 220, "features": []}})
        i = own.identify(g, ep(21))
        assert (i.service, i.product, i.version) == ("ftp", "vsftpd", "3.0.3")
        assert i.cpe == ["cpe:/a:beasts:vsftpd:3.0.3"]


def test_vsftpd_custom_banner_is_not_guessed(own: Identifier) -> None:
    g = GrabResult(service="ftp", data=b"220 Welcome to the lab FTP service.\r\n",
                   sections={"ftp": {"banner": "Welcome to the lab FTP service."}})
    i = own.identify(g, ep(21))
    assert (i.service, i.product, i.source) == ("ftp", None, "grab")


@pytest.mark.parametrize("letters", [True, False])
def test_postgresql_error(own: Identifier, letters: bool) -> None:
    fields = {"S": "FATAL", "V": "FATAL", "C": "28000",
              "M": 'no pg_hba.conf entry for host "127.20.0.1"', "F": "auth.c", "L": "543",
              "R": "ClientAuthentication"}
    names = {"S": "severity", "V": "severity_nonlocalized", "C": "sqlstate", "M": "message",
             "F": "file", "L": "line", "R": "routine"}
    err = fields if letters else {names[k]: v for k, v in fields.items()}
    g = GrabResult(service="postgresql", sections={"postgresql": {
        "ssl_supported": False, "auth_method": None, "error": err}})
    i = own.identify(g, ep(5432))
    assert (i.service, i.product, i.version) == ("postgresql", "PostgreSQL", None)
    assert i.info == "9.6.0 or later"
    assert i.cpe == ["cpe:/a:postgresql:postgresql"]
    assert "database" in i.tags


def test_postgresql_old_error_no_range(own: Identifier) -> None:
    g = GrabResult(service="postgresql", sections={"postgresql": {"error": {
        "S": "FATAL", "C": "28000", "F": "auth.c", "L": "400", "R": "ClientAuthentication"}}})
    i = own.identify(g, ep(5432))
    assert (i.product, i.version, i.info) == ("PostgreSQL", None, None)


def test_postgresql_server_version(own: Identifier) -> None:
    g = GrabResult(service="postgresql", sections={"postgresql": {
        "auth_method": "trust", "parameters": {"server_version": "15.5 (Debian 15.5-0+deb12u1)"}}})
    i = own.identify(g, ep(5432))
    assert (i.product, i.version) == ("PostgreSQL", "15.5")


def test_memcached_section(own: Identifier) -> None:
    g = GrabResult(service="memcached",
                   data=b"STAT pid 1\r\nSTAT uptime 5\r\nSTAT time 1700000000\r\n"
                        b"STAT version 1.6.18\r\nEND\r\n",
                   sections={"memcached": {"pid": 1, "uptime": 5, "version": "1.6.18"}})
    i = own.identify(g, ep(11211))
    assert (i.service, i.product, i.version) == ("memcached", "memcached", "1.6.18")
    assert i.cpe == ["cpe:/a:memcached:memcached:1.6.18"]


def test_memcached_banner_only(own: Identifier) -> None:
    """No section, no grabber guess: the raw VERSION reply alone identifies it."""
    i = own.identify(GrabResult(data=b"VERSION 1.6.18\r\n"), ep(11211))
    assert (i.service, i.product, i.version) == ("memcached", "memcached", "1.6.18")


def test_mariadb_greeting(own: Identifier) -> None:
    ver = b"5.5.5-10.11.6-MariaDB-0+deb12u1"
    body = b"\x0a" + ver + b"\x00" + b"\x08\x00\x00\x00" + b"abcdefgh\x00" + b"\xfe\xf7"
    pkt = len(body).to_bytes(3, "little") + b"\x00" + body
    g = GrabResult(service="mysql", data=pkt,
                   sections={"mysql": {"protocol_version": 10, "server_version": ver.decode()}})
    i = own.identify(g, ep(3306))
    assert (i.product, i.version, i.os) == ("MariaDB", "10.11.6", "Linux")
    assert "cpe:/a:oracle:mysql:5.5.5" not in i.cpe  # the MySQL reading lost: dropped
    assert i.cpe[0] == "cpe:/a:mariadb:mariadb:10.11.6"


# -- ranking -------------------------------------------------------------------

def test_valkey_beats_redis(own: Identifier) -> None:
    g = GrabResult(service="redis", sections={"redis": {"info": {
        "redis_version": "7.2.4", "valkey_version": "8.0.1"}}})
    i = own.identify(g, ep(6379))
    assert (i.product, i.version) == ("Valkey", "8.0.1")
    assert not any("redis:redis" in c for c in i.cpe)


def test_component_adds_cpe_only(own: Identifier) -> None:
    g = GrabResult(service="http", sections={"http": {
        "server": "nginx/1.22.1", "headers": {"x-powered-by": "PHP/8.2.7"}}})
    i = own.identify(g, ep(80))
    assert (i.product, i.version) == ("nginx", "1.22.1")
    assert i.cpe == ["cpe:/a:f5:nginx:1.22.1", "cpe:/a:php:php:8.2.7"]


def test_application_over_its_server(own: Identifier) -> None:
    """The product is the most specific thing named: the application, even from
    secondary evidence, over the web server or framework it runs on, whose CPE stays."""
    behind = GrabResult(service="http", sections={"http": {
        "server": "Jetty(10.0.18)", "headers": {"x-jenkins": "2.426.1"}}})
    i = own.identify(behind, ep(8080))
    assert (i.product, i.version) == ("Jenkins", "2.426.1")
    assert "cpe:/a:jenkins:jenkins:2.426.1" in i.cpe and "devops" in i.tags
    assert any(c.startswith("cpe:/a:eclipse:jetty") for c in i.cpe), i.cpe
    jupyter = GrabResult(service="http", sections={"http": {
        "server": "TornadoServer/6.6.1", "status": 302, "redirect": "/lab?",
        "api": {"api": '{"version": "2.21.1"}'}}})
    i = own.identify(jupyter, ep(10000))
    assert (i.product, i.version) == ("Jupyter Server", "2.21.1")
    assert "cpe:/a:tornadoweb:tornado:6.6.1" in i.cpe
    mlflow = GrabResult(service="http", sections={"http": {
        "server": "uvicorn", "status": 403, "api": {"mlflow_version": "3.17.2"},
        "html": "Invalid Host header - possible DNS rebinding attack detected"}})
    assert (own.identify(mlflow, ep(5555)).product, own.identify(mlflow, ep(5555)).version) \
        == ("MLflow", "3.17.2")
    plain = GrabResult(service="http", sections={"http": {"server": "TornadoServer/6.6.1"}})
    assert own.identify(plain, ep(8888)).product == "Tornado"
    alone = GrabResult(service="http", sections={"http": {"headers": {"x-jenkins": "2.426.1"}}})
    assert own.identify(alone, ep(8080)).product == "Jenkins"


def test_same_product_fills_version(own: Identifier) -> None:
    g = GrabResult(service="http", sections={"http": {
        "server": "Apache-Coyote/1.1", "html": "<h3>Apache Tomcat/9.0.65</h3>"}})
    i = own.identify(g, ep(8080))
    assert (i.product, i.version, i.info) == ("Apache Tomcat", "9.0.65", "Coyote JSP engine 1.1")
    assert i.cpe == ["cpe:/a:apache:tomcat:9.0.65"]


def test_tags(own: Identifier) -> None:
    g = GrabResult(service="http", tls=True, sections={
        "http": {"server": "Apache/2.4.57 (Debian)"},
        "ssl": {"version": "TLSv1.3", "cert": {"self_signed": True, "expired": False}}})
    i = own.identify(g, ep(443))
    assert (i.product, i.version, i.os, i.info) == ("Apache httpd", "2.4.57", "Linux", "Debian")
    assert i.tags == ["self-signed", "tls"]
    smtp = GrabResult(service="smtp", sections={"smtp": {
        "banner": "lab.test ESMTP Postfix (Debian/GNU)", "ehlo": ["STARTTLS"], "starttls": True}})
    j = own.identify(smtp, ep(25))
    assert (j.product, j.tags) == ("Postfix", ["starttls"])


# -- service fallbacks: never lie ----------------------------------------------------

def test_grab_service_when_no_rule(own: Identifier) -> None:
    i = own.identify(GrabResult(service="mqtt", data=b"\x20\x02\x00\x00"), ep(1883))
    assert (i.service, i.product, i.source) == ("mqtt", None, "grab")


def test_protocol_recognised_without_product(own: Identifier) -> None:
    reply = b"HTTP/1.1 404 Not Found\r\nServer: homegrown\r\n\r\n"
    i = own.identify(GrabResult(responses={"GetRequest": reply}), ep(9999))
    assert (i.service, i.product, i.source) == ("http", None, "netatlas")


def test_port_guess_is_marked(own: Identifier) -> None:
    i = own.identify(GrabResult(status="io-timeout"), ep(6379))
    assert (i.service, i.product, i.source) == ("redis", None, "port")


def test_no_guess_when_disabled_or_unknown() -> None:
    ident = Identifier(nmap=None, port_guess=False)
    assert ident.identify(GrabResult(), ep(6379)).service is None
    i = Identifier(nmap=None).identify(GrabResult(), ep(40123))
    assert (i.service, i.source) == (None, None)


# -- hostile input -------------------------------------------------------------------

@pytest.mark.timeout(30)  # a hang guard: without the bound this never ends
def test_hostile_values(own: Identifier) -> None:
    g = GrabResult(service="http", data=bytes(range(256)) * 4096, sections={"http": {
        "server": "nginx/" + "1" * 1_000_000, "headers": {"x-powered-by": ["PHP/8", None, {}]},
        "title": None, "html": 12345}})
    i = own.identify(g, ep(80))  # capped inputs (the mark guards a hang)
    assert i.product == "nginx"
    assert i.version is not None and len(i.version) <= 200
    assert all(len(c) < 300 for c in i.cpe)


def test_control_chars_stripped(own: Identifier) -> None:
    g = GrabResult(sections={"ftp": {"banner": "(vsFTPd 3.0.3\x1b[31m)"}})
    i = own.identify(g, ep(21))
    assert i.version == "3.0.3"
    assert not any("\x1b" in (v or "") for v in (i.product, i.version, i.info))


@pytest.mark.timeout(30)  # a hang guard: without the bound this never ends
def test_catastrophic_rule_pattern_times_out(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(
        "rules:\n"
        "  - id: evil\n"
        "    field: http.server\n"
        "    pattern: '^(a|aa)+$'\n"
        "    product: Evil\n"
        "    examples:\n"
        "      - input: aaaa\n"
        "        expect: {product: Evil}\n"
    )
    ident = Identifier(rule_paths=[tmp_path], nmap=None, timeout=0.05)
    g = GrabResult(sections={"http": {"server": "a" * 60 + "b"}})
    i = ident.identify(g, ep(80))  # 2^30 steps unbounded: stopped by the time-out
    assert i.product is None
    assert ident.stats.rule_timeouts == 1


# -- with the installed nmap --------------------------------------------------------

@needs_nmap
def test_nmap_alone_identifies_ssh_and_nginx(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("rules: []\n")
    ident = Identifier(rule_paths=[tmp_path])  # no own rules at all
    i = ident.identify(GrabResult(responses={"NULL": SSH_LINE}), ep(22))
    assert (i.service, i.product, i.source) == ("ssh", "OpenSSH", "nmap")
    assert i.version is not None and i.version.startswith("9.2p1")
    assert "cpe:/a:openbsd:openssh:9.2p1" in i.cpe
    j = ident.identify(GrabResult(responses={"GetRequest": NGINX_RAW}), ep(80))
    assert (j.service, j.product, j.version, j.source) == ("http", "nginx", "1.22.1", "nmap")


@needs_nmap
def test_own_rule_with_version_beats_nmap(full: Identifier) -> None:
    i = full.identify(ssh_result(), ep(22))
    assert (i.product, i.version, i.source) == ("OpenSSH", "9.2p1", "netatlas")
    # nmap's own vendor spelling of the same product is not added twice
    assert [c for c in i.cpe if c.startswith("cpe:/a:")] == ["cpe:/a:openbsd:openssh:9.2p1"]
    j = full.identify(nginx_result(), ep(80))
    assert j.cpe == ["cpe:/a:f5:nginx:1.22.1"]


@needs_nmap
def test_nmap_names_are_aliased(full: Identifier) -> None:
    reply = b"-ERR operation not permitted\r\n"
    i = full.identify(GrabResult(responses={"redis-server": reply}), ep(6379))
    assert (i.service, i.product, i.source) == ("redis", "Redis", "nmap")


@needs_nmap
def test_nmap_from_banner_when_no_responses(full: Identifier) -> None:
    i = full.identify(GrabResult(data=b"220 (vsFTPd 3.0.3)\r\n"), ep(2121))
    assert (i.service, i.product, i.version) == ("ftp", "vsftpd", "3.0.3")


def test_other_sources_server_names_are_not_applications() -> None:
    """Recog's and nmap's spellings of a web server ("HTTPD", "Tomcat") are not an
    application over our own server rule: the bench's lab regressed on exactly these."""
    from netatlas.identify.candidate import Candidate
    from netatlas.identify.engine import decide

    ours = Candidate(source="netatlas", kind="rule", rule_id="http.apache", service="http",
                     product="Apache httpd", version="2.4.71")
    recog = Candidate(source="recog", kind="rule", rule_id="recog:x", product="HTTPD",
                      version="2.4.71", priority=-1)
    ident = decide([ours, recog], GrabResult(service="http"), ep(80),
                   servers=frozenset({"apache httpd"}))
    assert (ident.product, ident.version) == ("Apache httpd", "2.4.71")
