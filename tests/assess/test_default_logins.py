"""--check-default-logins against real servers from Debian packages on 127.20.61.0/24:
MariaDB (root@'%' without a password / with a strong one), PostgreSQL (trust, the
password "postgres", a strong password) and Redis (requirepass "foobared" / strong).

Each server's own account of logins is the witness: MariaDB's general log, PostgreSQL's
log_connections lines, Redis's command statistics. Off by default means those see no
login from a scan; on means the finding, with the user name and without the password."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_client
from click.testing import CliRunner

from netatlas.assess import assess
from netatlas.assess.intrusive import (
    NOTICE,
    SECTION,
    Credential,
    DefaultLogin,
    Limits,
    Target,
    check_default_logins,
    families,
    try_family,
)
from netatlas.cli.main import cli
from netatlas.lab.daemon import BINARIES, MARIADB_INSTALL_DB, ids
from netatlas.lab.pgserver import TempPostgres
from netatlas.model import Observation, utcnow
from netatlas.store import open_store

NET = "127.20.61"
MARIADB_IP, PG_IP, REDIS_IP, REDIS_STRONG_IP, SILENT_IP = (
    f"{NET}.20", f"{NET}.21", f"{NET}.22", f"{NET}.23", f"{NET}.24")
TOMCAT_IP, TOMCAT_STRONG_IP = f"{NET}.30", f"{NET}.31"
RABBITMQ_IP = f"{NET}.40"
STRONG = "Zq7-" + secrets.token_hex(12)


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        port: int = s.getsockname()[1]
    assert port != 2024
    return port


def _wait(ready: Any, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{what} did not start: {tail}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)  # our own child, by its PID
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- MariaDB ------------------------------------------------------------------------------

class Mariadb:
    def __init__(self, root: Path, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.root, self.port, self.proc = root, port, proc

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def general_log(self) -> Path:
        return self.root / "general.log"

    def sql(self, statement: str) -> str:
        # as the OS root over the socket (unix_socket authentication), never over TCP
        out = subprocess.run(["/usr/bin/mariadb", "--no-defaults", f"--socket={self.socket}",
                              "-uroot", "-N", "-e", statement],
                             capture_output=True, timeout=30, check=True)
        return out.stdout.decode()

    def tcp_logins(self) -> set[str]:
        """Connection ids of the general log's Connect lines for 'root' over TCP: the
        logins tried, good or bad (a refused one logs a second line, same id)."""
        self.sql("FLUSH GENERAL LOGS")
        text = self.general_log.read_text(errors="replace")
        return {m.group(1) for m in re.finditer(
            r"(\d+) Connect\t(?:root@\S+ on .*using TCP/IP|Access denied for user 'root')",
            text)}


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Mariadb]:
    if os.geteuid() != 0:
        pytest.skip("starting mariadbd as user mysql needs root")
    root = Path(tempfile.mkdtemp(prefix="netatlas-dl-mariadb-", dir="/tmp"))
    root.chmod(0o755)
    os.chown(root, *ids("mysql"))
    data = root / "data"
    subprocess.run([MARIADB_INSTALL_DB, "--no-defaults", "--user=mysql", f"--datadir={data}",
                    "--auth-root-authentication-method=socket", "--skip-test-db",
                    "--skip-name-resolve"], cwd=root, capture_output=True, timeout=120,
                   check=True, env={"PATH": "/usr/sbin:/usr/bin:/bin", "LC_ALL": "C"})
    port = _free_port(MARIADB_IP)
    log = root / "error.log"
    proc = subprocess.Popen(
        [BINARIES["mariadb"], "--no-defaults", "--user=mysql", f"--datadir={data}",
         f"--socket={root / 'mysqld.sock'}", f"--pid-file={root / 'mysqld.pid'}",
         f"--bind-address={MARIADB_IP}", f"--port={port}", "--skip-name-resolve",
         "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--max-connections=20",
         "--general-log=1", f"--general-log-file={root / 'general.log'}",
         f"--log-error={log}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    server = Mariadb(root, port, proc)

    def ready() -> bool:
        try:
            server.sql("SELECT 1")
        except subprocess.CalledProcessError:
            return False
        return True

    try:
        _wait(ready, proc, "mariadbd", log)
        server.sql("CREATE USER 'root'@'%' IDENTIFIED BY ''")
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


# -- PostgreSQL ---------------------------------------------------------------------------

class Postgres:
    def __init__(self, server: TempPostgres) -> None:
        self.server = server

    def configure(self, method: str, password: str | None) -> None:
        """Host logins by ``method`` (trust / scram-sha-256); postgres's password."""
        with psycopg.connect(host=str(self.server.root), port=self.server.port,
                             user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute("SET password_encryption = 'scram-sha-256'")
            if password is None:
                c.execute("ALTER ROLE postgres PASSWORD NULL")
            else:
                c.execute(psycopg.sql.SQL("ALTER ROLE postgres PASSWORD {}").format(
                    psycopg.sql.Literal(password)))
            hba = self.server.data_dir / "pg_hba.conf"
            # the scan's connections come from 127.0.0.1 (loopback's source address)
            hba.write_text(f"local all all trust\nhost all all 127.0.0.0/8 {method}\n")
            c.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)  # the postmaster re-reads pg_hba.conf on SIGHUP, asynchronously

    def authorized(self) -> int:
        """log_connections lines of logins from netatlas's default-login attempt."""
        text = self.server.log_file.read_text(errors="replace")
        return len(re.findall(r"connection authorized: user=postgres database=postgres "
                              r"application_name=netatlas\b", text))

    def attempts(self) -> int:
        """Connections for user postgres from the lab net (authorized or refused)."""
        text = self.server.log_file.read_text(errors="replace")
        return (self.authorized()
                + text.count('password authentication failed for user "postgres"'))


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = TempPostgres(host=PG_IP)
    server.start()
    try:
        with psycopg.connect(host=str(server.root), port=server.port, user="postgres",
                             dbname="postgres", autocommit=True) as c:
            c.execute("ALTER SYSTEM SET log_connections = on")
            c.execute("SELECT pg_reload_conf()")
        yield Postgres(server)
    finally:
        server.stop()


# -- Redis --------------------------------------------------------------------------------

class Redis:
    def __init__(self, ip: str, port: int, password: str) -> None:
        self.ip, self.port, self.password = ip, port, password

    def auth_calls(self) -> int:
        """AUTH commands the server has seen, good or bad (INFO commandstats)."""
        c = redis_client.Redis(host=self.ip, port=self.port, password=self.password,
                               socket_timeout=5)
        try:
            stats = c.info("commandstats").get("cmdstat_auth", {})
        finally:
            c.close()
        # this client authenticates with HELLO, so every AUTH counted came from a scan;
        # ``calls`` counts the refused ones too (``failed_calls`` is a part of it)
        return int(stats.get("calls", 0))


def _redis(ip: str, password: str) -> Iterator[Redis]:
    root = Path(tempfile.mkdtemp(prefix="netatlas-dl-redis-"))
    port = _free_port(ip)
    conf = root / "redis.conf"
    conf.write_text(f"bind {ip}\nport {port}\nrequirepass {password}\ndir {root}\n"
                    "save \"\"\nappendonly no\nprotected-mode no\nlogfile \"\"\n")
    proc = subprocess.Popen([BINARIES["redis"], str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    server = Redis(ip, port, password)

    def ready() -> bool:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return True
        except OSError:
            return False

    try:
        _wait(ready, proc, "redis-server", root / "none")
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_foobared() -> Iterator[Redis]:
    yield from _redis(REDIS_IP, "foobared")


@pytest.fixture(scope="module")
def redis_strong() -> Iterator[Redis]:
    yield from _redis(REDIS_STRONG_IP, STRONG)


# -- Tomcat with its Manager app (Debian's tomcat10 + tomcat10-admin) ------------------------

TOMCAT_HOME = Path("/usr/share/tomcat10")
MANAGER_APP = Path("/usr/share/tomcat10-admin/manager")
_TOMCAT_SERVICE = """
  <Service name="{name}">
    <Connector address="{ip}" port="{port}" protocol="HTTP/1.1" connectionTimeout="20000"
               maxThreads="8" />
    <Engine name="{name}" defaultHost="localhost">
      <Realm className="org.apache.catalina.realm.UserDatabaseRealm"
             resourceName="{name}Users" />
      <Host name="localhost" appBase="webapps-{name}" unpackWARs="false" autoDeploy="false">
        <Valve className="org.apache.catalina.valves.AccessLogValve" directory="logs"
               prefix="access-{name}" suffix=".log" pattern="%u %r %s" rotatable="false"
               buffered="false" />
      </Host>
    </Engine>
  </Service>"""


class Tomcat:
    def __init__(self, base: Path, ports: dict[str, int]) -> None:
        self.base, self.ports = base, ports

    def manager_logins(self, name: str) -> list[str]:
        """Access-log lines ("USER REQUEST STATUS") of /manager/html requests: every
        login tried there (USER is "-" when the login failed)."""
        log = self.base / "logs" / f"access-{name}.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return [ln for ln in lines if " /manager/html " in ln]


@pytest.fixture(scope="module")
def tomcat() -> Iterator[Tomcat]:
    if not (MANAGER_APP / "WEB-INF" / "web.xml").is_file():
        pytest.fail("tomcat10-admin is not installed (bash scripts/install-system-deps.sh)",
                    pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="netatlas-dl-tomcat-"))
    conf = base / "conf"
    for sub in ("conf", "logs", "temp", "work"):
        (base / sub).mkdir()
    for name in ("web.xml", "context.xml", "catalina.properties"):
        shutil.copyfile(Path("/etc/tomcat10") / name, conf / name)
    (conf / "logging.properties").write_text(
        "handlers = java.util.logging.ConsoleHandler\n"
        ".handlers = java.util.logging.ConsoleHandler\n")
    users = {"Default": ("tomcat", "tomcat"), "Strong": ("tomcat", STRONG)}
    ports = {"Default": _free_port(TOMCAT_IP), "Strong": _free_port(TOMCAT_STRONG_IP)}
    resources, services = [], []
    for name, ip in (("Default", TOMCAT_IP), ("Strong", TOMCAT_STRONG_IP)):
        user, password = users[name]
        (conf / f"users-{name}.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<tomcat-users>\n'
            '  <role rolename="manager-gui"/>\n'
            f'  <user username="{user}" password="{password}" roles="manager-gui"/>\n'
            '</tomcat-users>\n')
        resources.append(
            f'<Resource name="{name}Users" auth="Container" '
            'type="org.apache.catalina.UserDatabase" '
            'factory="org.apache.catalina.users.MemoryUserDatabaseFactory" '
            f'pathname="conf/users-{name}.xml" />')
        services.append(_TOMCAT_SERVICE.format(name=name, ip=ip, port=ports[name]))
        ctx_dir = conf / name / "localhost"
        ctx_dir.mkdir(parents=True)
        (ctx_dir / "manager.xml").write_text(
            f'<Context path="/manager" docBase="{MANAGER_APP}" privileged="true" '
            'antiResourceLocking="false" />\n')
        (base / f"webapps-{name}").mkdir()
    (conf / "server.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Server port="-1" shutdown="SHUTDOWN">\n'
        f'  <GlobalNamingResources>{"".join(resources)}</GlobalNamingResources>'
        + "".join(services) + "\n</Server>\n")
    log = base / "catalina.out"
    env = {"PATH": "/usr/bin:/bin", "CATALINA_HOME": str(TOMCAT_HOME),
           "CATALINA_BASE": str(base), "CATALINA_TMPDIR": str(base / "temp"),
           "JAVA_OPTS": "-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData"
                        " -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true"}
    with log.open("wb") as out:
        proc = subprocess.Popen([BINARIES["tomcat"], "run"], env=env, cwd=base,
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def ready() -> bool:
        return "Server startup in" in log.read_text(errors="replace")

    try:
        _wait(ready, proc, "tomcat", log)
        yield Tomcat(base, ports)
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# -- RabbitMQ with its management plugin (Debian's rabbitmq-server) ------------------------

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class Rabbitmq:
    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port, self.password = base, port, "guest"

    def set_guest_password(self, password: str) -> None:
        """Through the management API itself, as guest (the test's client, not a scan)."""
        import httpx

        r = httpx.put(f"http://{RABBITMQ_IP}:{self.port}/api/users/guest",
                      json={"password": password, "tags": "administrator"},
                      auth=("guest", self.password), timeout=10)
        assert r.status_code in (201, 204), r.text
        self.password = password

    def whoami_requests(self) -> list[str]:
        """The management listener's access-log lines for /api/whoami."""
        lines: list[str] = []
        for log in (self.base / "http").glob("*"):
            lines += [ln for ln in log.read_text(errors="replace").splitlines()
                      if "/api/whoami" in ln]
        return lines


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[Rabbitmq]:
    if not RABBITMQ_SERVER.is_file():
        pytest.fail("rabbitmq-server is not installed (bash scripts/install-system-deps.sh)",
                    pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="netatlas-dl-rabbitmq-"))
    amqp, mgmt, dist, epmd_port = (_free_port(RABBITMQ_IP) for _ in range(4))
    (base / "http").mkdir()
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = {RABBITMQ_IP}:{amqp}\nmanagement.tcp.ip = {RABBITMQ_IP}\n"
        f"management.tcp.port = {mgmt}\nmanagement.http_log_dir = {base / 'http'}\n")
    (base / "enabled_plugins").write_text("[rabbitmq_management].\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "LC_ALL": "C.UTF-8",
           "RABBITMQ_NODENAME": f"netatlasdl{secrets.token_hex(3)}@localhost",
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base),
           "RABBITMQ_LOGS": "-", "RABBITMQ_PID_FILE": str(base / "beam.pid"),
           "RABBITMQ_DIST_PORT": str(dist),
           # Erlang distribution and epmd on this loopback address only
           "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
               f"-kernel inet_dist_use_interface {{{RABBITMQ_IP.replace('.', ',')}}}",
           "ERL_EPMD_ADDRESS": RABBITMQ_IP, "ERL_EPMD_PORT": str(epmd_port)}
    # our own epmd in the foreground, so its PID is ours to stop (the node finds it)
    epmd = subprocess.Popen(["/usr/bin/epmd", "-port", str(epmd_port), "-address", RABBITMQ_IP],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    log = base / "out.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(RABBITMQ_SERVER)], env=env, cwd=base,
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def ready() -> bool:
        return "Server startup complete" in log.read_text(errors="replace")

    try:
        _wait(ready, proc, "rabbitmq-server", log)
        yield Rabbitmq(base, mgmt)
    finally:
        pid_file = base / "beam.pid"
        if pid_file.exists() and proc.poll() is None:
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)  # the node
        _stop(proc)
        _stop(epmd)
        shutil.rmtree(base, ignore_errors=True)


# -- scanning -----------------------------------------------------------------------------

def _scan(tmp_path: Path, ip: str, port: int, *extra: str) -> tuple[Any, list[dict[str, Any]]]:
    db = tmp_path / f"scan-{secrets.token_hex(4)}.db"
    result = CliRunner().invoke(cli, [
        "scan", ip, "-p", str(port), "--allow", f"{NET}.0/24", "--exclude-ports", "2024",
        "--banner-wait", "0.5", "--db", str(db), "--json", *extra])
    assert result.exit_code == 0, result.output
    store = open_store(str(db))
    try:
        records = [r for r in store.iter_search("") if r["port"] == port]
    finally:
        store.close()
    assert len(records) == 1, records
    return result, records


def _search(tmp_path: Path, query: str) -> list[dict[str, Any]]:
    out = []
    for db in tmp_path.glob("scan-*.db"):
        store = open_store(str(db))
        try:
            out += list(store.iter_search(query))
        finally:
            store.close()
    return out


def _risk(record: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in record.get("risks", []) if r["id"] == "default-login"), None)


def test_mariadb_off_by_default_sends_no_login(mariadb: Mariadb, tmp_path: Path) -> None:
    mariadb.sql("ALTER USER 'root'@'%' IDENTIFIED BY ''")
    before = len(mariadb.tcp_logins())
    result, (rec,) = _scan(tmp_path, MARIADB_IP, mariadb.port)
    assert rec["service"] == "mysql"
    assert len(mariadb.tcp_logins()) == before  # the server saw no login at all
    assert SECTION not in rec and _risk(rec) is None
    assert NOTICE not in result.stderr


def test_mariadb_root_without_password(mariadb: Mariadb, tmp_path: Path) -> None:
    mariadb.sql("ALTER USER 'root'@'%' IDENTIFIED BY ''")
    before = len(mariadb.tcp_logins())
    result, (rec,) = _scan(tmp_path, MARIADB_IP, mariadb.port, "--check-default-logins")
    assert NOTICE in result.stderr
    assert len(mariadb.tcp_logins()) == before + 1  # one attempt, one pair
    risk = _risk(rec)
    assert risk is not None and risk["severity"] == "critical"
    assert "vendor default password for 'root'" in risk["evidence"]
    assert rec[SECTION]["accepted"] == [
        {"product": "MySQL/MariaDB", "user": "root", "password": "empty"}]
    assert [r["ip_str"] for r in _search(tmp_path, "risk:default-login")] == [MARIADB_IP]


def test_mariadb_strong_password_no_finding(mariadb: Mariadb, tmp_path: Path) -> None:
    mariadb.sql(f"ALTER USER 'root'@'%' IDENTIFIED BY '{STRONG}'")
    before = len(mariadb.tcp_logins())
    _, (rec,) = _scan(tmp_path, MARIADB_IP, mariadb.port, "--check-default-logins")
    assert len(mariadb.tcp_logins()) == before + 1  # tried once, refused
    assert _risk(rec) is None
    assert rec[SECTION]["tried"][0]["outcome"] == "refused"
    assert rec[SECTION]["accepted"] == []
    assert STRONG not in json.dumps(rec)


def test_postgres_off_by_default_sends_no_login(postgres: Postgres, tmp_path: Path) -> None:
    postgres.configure("trust", None)
    before = postgres.authorized()
    _, (rec,) = _scan(tmp_path, PG_IP, postgres.server.port)
    assert rec["service"] == "postgresql"
    assert postgres.authorized() == before and _risk(rec) is None


def test_postgres_trust(postgres: Postgres, tmp_path: Path) -> None:
    postgres.configure("trust", None)
    before = postgres.authorized()
    _, (rec,) = _scan(tmp_path, PG_IP, postgres.server.port, "--check-default-logins")
    assert postgres.authorized() == before + 1
    risk = _risk(rec)
    assert risk is not None and "'postgres'" in risk["evidence"]
    assert rec[SECTION]["accepted"] == [
        {"product": "PostgreSQL", "user": "postgres", "password": "none asked"}]


def test_postgres_default_password(postgres: Postgres, tmp_path: Path) -> None:
    postgres.configure("scram-sha-256", "postgres")
    before = postgres.attempts()
    _, (rec,) = _scan(tmp_path, PG_IP, postgres.server.port, "--check-default-logins")
    # no password first: libpq gives up before sending one (not logged as a failure)
    assert postgres.attempts() == before + 1
    assert [t["outcome"] for t in rec[SECTION]["tried"]] == ["refused", "accepted"]
    assert rec[SECTION]["accepted"][0]["password"] == "default"
    assert _risk(rec) is not None


def test_postgres_strong_password_no_finding(postgres: Postgres, tmp_path: Path) -> None:
    postgres.configure("scram-sha-256", STRONG)
    before = postgres.attempts()
    _, (rec,) = _scan(tmp_path, PG_IP, postgres.server.port, "--check-default-logins")
    assert postgres.attempts() == before + 1  # only the "postgres" password was sent
    assert [t["outcome"] for t in rec[SECTION]["tried"]] == ["refused", "refused"]
    assert _risk(rec) is None


def test_redis_off_by_default_sends_no_auth(redis_foobared: Redis, tmp_path: Path) -> None:
    before = redis_foobared.auth_calls()
    _, (rec,) = _scan(tmp_path, REDIS_IP, redis_foobared.port)
    assert rec["service"] == "redis"
    assert redis_foobared.auth_calls() == before and _risk(rec) is None


def test_redis_foobared(redis_foobared: Redis, tmp_path: Path) -> None:
    before = redis_foobared.auth_calls()
    _, (rec,) = _scan(tmp_path, REDIS_IP, redis_foobared.port, "--check-default-logins")
    assert redis_foobared.auth_calls() == before + 1
    risk = _risk(rec)
    assert risk is not None and "'default'" in risk["evidence"]
    assert "foobared" not in json.dumps(rec)  # the password is never in the record


def test_redis_strong_password_no_finding(redis_strong: Redis, tmp_path: Path) -> None:
    before = redis_strong.auth_calls()
    _, (rec,) = _scan(tmp_path, REDIS_STRONG_IP, redis_strong.port, "--check-default-logins")
    assert redis_strong.auth_calls() == before + 1
    assert _risk(rec) is None and rec[SECTION]["accepted"] == []


def test_tomcat_off_by_default_sends_no_login(tomcat: Tomcat, tmp_path: Path) -> None:
    before = len(tomcat.manager_logins("Default"))
    _, (rec,) = _scan(tmp_path, TOMCAT_IP, tomcat.ports["Default"])
    assert rec["product"] == "Apache Tomcat"
    assert len(tomcat.manager_logins("Default")) == before and _risk(rec) is None


def test_tomcat_manager_tomcat_tomcat(tomcat: Tomcat, tmp_path: Path) -> None:
    before = len(tomcat.manager_logins("Default"))
    _, (rec,) = _scan(tmp_path, TOMCAT_IP, tomcat.ports["Default"], "--check-default-logins")
    new = tomcat.manager_logins("Default")[before:]
    assert [ln.split()[0] for ln in new] == ["tomcat"]  # one request, the first pair
    assert new[0].endswith(" 200")
    risk = _risk(rec)
    assert risk is not None and "Tomcat manager" in risk["evidence"]
    assert "'tomcat'" in risk["evidence"]


def test_tomcat_manager_strong_password(tomcat: Tomcat, tmp_path: Path) -> None:
    before = len(tomcat.manager_logins("Strong"))
    _, (rec,) = _scan(tmp_path, TOMCAT_STRONG_IP, tomcat.ports["Strong"],
                      "--check-default-logins")
    new = tomcat.manager_logins("Strong")[before:]
    # both pairs, once each, refused (Tomcat logs no user for a failed Basic login)
    assert len(new) == 2 and all(ln.endswith(" 401") for ln in new)
    assert [t["outcome"] for t in rec[SECTION]["tried"]] == ["refused", "refused"]
    assert _risk(rec) is None and STRONG not in json.dumps(rec)


def test_rabbitmq_off_by_default_sends_no_login(rabbitmq: Rabbitmq, tmp_path: Path) -> None:
    before = len(rabbitmq.whoami_requests())
    _, (rec,) = _scan(tmp_path, RABBITMQ_IP, rabbitmq.port)
    assert rec["product"] == "RabbitMQ"
    assert len(rabbitmq.whoami_requests()) == before and _risk(rec) is None


def test_rabbitmq_guest_guest(rabbitmq: Rabbitmq, tmp_path: Path) -> None:
    rabbitmq.set_guest_password("guest")
    before = len(rabbitmq.whoami_requests())
    _, (rec,) = _scan(tmp_path, RABBITMQ_IP, rabbitmq.port, "--check-default-logins")
    assert len(rabbitmq.whoami_requests()) == before + 1
    risk = _risk(rec)
    assert risk is not None and "RabbitMQ management" in risk["evidence"]
    assert "'guest'" in risk["evidence"]


def test_rabbitmq_strong_password(rabbitmq: Rabbitmq, tmp_path: Path) -> None:
    rabbitmq.set_guest_password(STRONG)
    before = len(rabbitmq.whoami_requests())
    _, (rec,) = _scan(tmp_path, RABBITMQ_IP, rabbitmq.port, "--check-default-logins")
    assert len(rabbitmq.whoami_requests()) == before + 1
    assert rec[SECTION]["tried"][0]["outcome"] == "refused"
    assert _risk(rec) is None and STRONG not in json.dumps(rec)


# -- bounds -------------------------------------------------------------------------------

async def test_silent_service_is_time_bounded() -> None:
    """A server that accepts and never answers: the family gives up at its bound, with
    one attempt made and nothing accepted."""
    with socket.socket() as listener:
        listener.bind((SILENT_IP, 0))
        listener.listen(8)
        target = Target(SILENT_IP, listener.getsockname()[1], False, "mysql", "MariaDB")
        fam = next(f for f in families() if f.name == "MySQL/MariaDB")
        rows = await try_family(fam, target, Limits(read_timeout=0.3, per_service=5))
    assert [r["outcome"] for r in rows] == ["error"]
    assert "TimeoutError" in rows[0]["detail"]


async def test_nothing_applies_nothing_sent() -> None:
    """An ssh server (or anything no family names) gets no attempt and no section."""
    target = Target(SILENT_IP, 1, False, "ssh", "OpenSSH")
    assert await check_default_logins(target) is None


async def test_family_stops_at_first_accepted() -> None:
    sent: list[str] = []

    async def attempt(t: Target, c: Credential, lim: Limits) -> bool:
        sent.append(c.user)
        return c.user == "b"

    fam = DefaultLogin("X", lambda t: True,
                       (Credential("a", "1"), Credential("b", "2"), Credential("c", "3")),
                       attempt)
    rows = await try_family(fam, Target(SILENT_IP, 1, False, "x", "X"), Limits())
    assert sent == ["a", "b"]
    assert [(r["user"], r["outcome"]) for r in rows] == [("a", "refused"), ("b", "accepted")]
    assert all("2" not in str(r.values()) for r in rows)


def test_finding_from_section_only() -> None:
    obs = Observation(ip=SILENT_IP, port=1, transport="tcp", timestamp=utcnow(),
                      scan_id="t")
    assert not [f for f in assess(obs) if f.id == "default-login"]
    obs.sections[SECTION] = {"tried": [], "accepted": [
        {"product": "Grafana", "user": "admin", "password": "default"}]}
    (finding,) = [f for f in assess(obs) if f.id == "default-login"]
    assert finding.severity == "critical"
    assert finding.evidence == ("Grafana accepted the vendor default password for 'admin' "
                                "(default)")


def test_help_says_intrusive() -> None:
    out = CliRunner().invoke(cli, ["scan", "--help"]).output
    assert "--check-default-logins" in out and "INTRUSIVE" in out


def test_api_scan_request_carries_the_option(tmp_path: Path) -> None:
    """The API's scan body and request have the CLI's option, same name, off by default,
    and it reaches the scan's stored config."""
    from netatlas.api._native import ScanBody
    from netatlas.api._scans import ScanManager, ScanRequest

    store = open_store(str(tmp_path / "api.db"))
    try:
        manager = ScanManager(store, [f"{NET}.0/24"])
        body = ScanBody(targets=[MARIADB_IP])
        assert body.check_default_logins is False
        assert manager._config(ScanRequest(**body.model_dump())).check_default_logins is False
        on = ScanBody(targets=[MARIADB_IP], check_default_logins=True)
        cfg = manager._config(ScanRequest(**on.model_dump()))
        assert cfg.check_default_logins is True
        assert cfg.to_args()["check_default_logins"] is True
    finally:
        store.close()
