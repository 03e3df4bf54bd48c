"""Infrastructure platforms and model servers end to end: a loopback server replays what
each one sends (tests/assess/platform_samples.py says where every sample comes from),
netatlas grabs it, names the platform (not its web server) and rates it. Each platform
has a state that must raise its finding and one that must not (authentication on,
sealed, redacted). The real ClickHouse, TorchServe and Spark run where installed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netatlas.assess import CHECKS, assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify import Identifier
from netatlas.lab.daemon import BINARIES, app_site_packages
from netatlas.model import Endpoint, Observation
from tests.grab.conftest import serve

from . import platform_samples as ps

PLATFORM_CHECKS = {"consul-acl-off", "vault-uninitialized", "vault-unsealed",
                   "kubelet-anonymous", "neo4j-no-auth", "clickhouse-no-auth", "solr-no-auth",
                   "yarn-rm-open", "spark-master-open", "airflow-api-open", "grafana-anonymous",
                   "kibana-anonymous", "ai-triton", "ai-torchserve"}
# what a plain web server is asked (test_http_followups pins it), after GET /
PLAIN = ["/favicon.ico", "/.git/HEAD", "/.env", "/version", "/api", "/api/v1/status/buildinfo"]
# the platform's own extra requests, asked right after GET /
EXTRA = {
    "consul": ["/v1/agent/self"], "vault": ["/v1/sys/health"], "kubelet": ["/pods"],
    "neo4j": ["/db/neo4j/tx"], "clickhouse": ["/?query=SELECT%20version()"],
    "solr": ["/solr/admin/info/system?wt=json"], "yarn": ["/ws/v1/cluster/info"],
    "spark": ["/json/"], "airflow": ["/api/v1/health", "/api/v1/version", "/api/v1/dags"],
    "airflow3": ["/api/v2/version", "/api/v2/dags"],
    "grafana": ["/api/health", "/api/search"], "kibana": ["/api/status"], "triton": ["/v2"],
    "torchserve": ["/api-description", "/ping", "/models"], "podman": [],
}
ALL = ps.build()
FAST = GrabOptions(banner_wait=0.3, read_timeout=2.0, connect_timeout=2.0,
                   total_timeout=20.0)


def observe(res: Any, ep: Endpoint) -> Observation:
    ident = Identifier(nmap=None, fingerprints=None).identify(res, ep)
    return Observation.build(ep, "s", res, ident)


async def _grab(replay: ps.Replay, ip: str) -> Observation:
    async with serve(replay, ip) as port:
        ep = Endpoint(ip, port)
        res = await grab_endpoint(ep, FAST)
    assert res.status == "success", res.error
    return observe(res, ep)


@pytest.fixture(scope="module")
def grabbed() -> dict[str, tuple[Observation, ps.Replay]]:
    """Every replayed platform grabbed once, side by side (each on its own address)."""
    servers = ps.build()

    async def one(i: int, name: str) -> tuple[str, tuple[Observation, ps.Replay]]:
        replay = servers[name][0]
        return name, (await _grab(replay, f"127.20.14.{100 + i}"), replay)

    async def every() -> dict[str, tuple[Observation, ps.Replay]]:
        return dict(await asyncio.gather(*(one(i, n) for i, n in enumerate(sorted(servers)))))

    return asyncio.run(every())


Grabbed = dict[str, tuple[Observation, ps.Replay]]


def test_every_platform_check_is_in_the_table() -> None:
    ids = {c.id for c in CHECKS}
    assert ids >= PLATFORM_CHECKS
    assert {f for _, _, found in ALL.values() for f in found} & PLATFORM_CHECKS \
        == PLATFORM_CHECKS  # each one raised by some replayed platform


@pytest.mark.parametrize("name", sorted(ALL))
def test_platform(grabbed: Grabbed, name: str) -> None:
    _, (product, version), expected = ALL[name]
    obs, replay = grabbed[name]
    if product:
        assert (obs.product, obs.version) == (product, version), obs.sections["http"].get("api")
    else:  # authentication refused before anything named the platform
        assert obs.product is None, obs.product
    found = {f.id: f for f in assess(obs)}
    assert set(found) == expected, {k: v.evidence for k, v in found.items()}
    for f in found.values():
        assert f.evidence and len(f.evidence) <= 200 and "\n" not in f.evidence
    # the extra requests are the platform's own well-known paths, nothing else
    family = name.split("-")[0]
    extra = [p for p in replay.paths[1:] if p not in PLAIN and not p.startswith("/netatlas-")
             and not p.endswith((".png", ".ico"))]  # the page's own icon link
    assert set(extra) <= set(EXTRA[family]) | ({"/pods"} if family == "vault" else set()), extra


def test_clickhouse_native_port_is_clickhouse_not_http(grabbed: Grabbed) -> None:
    """ClickHouse's native port answers HTTP with a 400 naming clickhouse-client: the
    service is ClickHouse's own protocol, the product the one our HTTP rules name (not
    nmap's "ClickHouse DBMS"), and no finding (nothing was queried there)."""
    obs, _ = grabbed["clickhouse-native"]
    assert (obs.service, obs.product, obs.version) == ("clickhouse", "ClickHouse", None)
    assert obs.cpe == ["cpe:/a:clickhouse:clickhouse"]
    assert assess(obs) == []


def test_podman_is_not_docker(grabbed: Grabbed) -> None:
    """Podman's Docker-compatible API says "Version" and "ApiVersion" as Docker's does: the
    product is Podman, with Podman's CPE (not Docker 4.3.1, whose CVEs are Docker's)."""
    obs, _ = grabbed["podman-open"]
    assert (obs.product, obs.version) == ("Podman", "4.3.1")
    assert obs.cpe == ["cpe:/a:podman_project:podman:4.3.1"]
    assert "container" in obs.tags


def test_nmap_names_the_native_port_as_our_rules_do() -> None:
    ident = Identifier(fingerprints=None)
    if ident.nmap is None:
        pytest.skip("nmap-service-probes not installed")
    assert ident.aliases.get("ClickHouse DBMS") == "ClickHouse"


def test_evidence_quotes_what_the_server_said(grabbed: Grabbed) -> None:
    said = {name: " | ".join(f.evidence for f in assess(obs))
            for name, (obs, _) in grabbed.items()}
    assert "'1.0.0'" in said["consul-open"] and "'dc1'" in said["consul-open"]
    assert "initialized false" in said["vault-uninit"] and "'1.15.2'" in said["vault-uninit"]
    assert "unsealed, active" in said["vault-unsealed"]
    assert "vault-cluster-3bd69ca2" in said["vault-unsealed"]
    assert "1 pod(s)" in said["kubelet-anonymous"]
    assert "metrics-server" in said["kubelet-anonymous"]
    assert "HTTP ERROR 405" in said["neo4j-no-auth"] and "4.4.26" in said["neo4j-no-auth"]
    assert "'18.16.1'" in said["clickhouse-open"]
    assert "'4.10.3'" in said["solr-open"] and "solrcloud" in said["solr-open"]
    assert "3.0.0-SNAPSHOT" in said["yarn-open"] and "STARTED" in said["yarn-open"]
    assert "spark://127.20.14.5:17077" in said["spark-master"] and "ALIVE" in said["spark-master"]
    assert "1 DAG(s)" in said["airflow-open"] and "example_bash_operator" in said["airflow-open"]
    assert "GET /api/v2/dags answered 200" in said["airflow3-open"]
    assert "REST submission server" in said["spark-rest"] and "'4.3.0'" in said["spark-rest"]
    assert "2 dashboard(s)" in said["grafana-anonymous"]
    assert "Production Overview" in said["grafana-anonymous"]
    assert "'8.11.0'" in said["kibana-open"] and "available" in said["kibana-open"]
    assert "'2.23.0'" in said["triton"] and "model_repository" in said["triton"]
    assert "management API GET /models" in said["torchserve-management"]
    assert "'Healthy'" in said["torchserve-inference"]
    assert "TorchServe 0.12.0" in said["torchserve-inference"]


async def test_a_plain_web_server_costs_the_same() -> None:
    """nginx's default page still gets GET /, the favicon, the two leak paths, the three
    always-asked API paths and the error page: none of the platform rows."""
    page = ps.reply("200 OK", ["Server: nginx/1.22.1", "Content-Type: text/html"],
                    "<!DOCTYPE html><title>Welcome to nginx!</title><p>If you see this page, "
                    "the nginx web server is successfully installed and working.")
    replay = ps.Replay({"/": page}, ps.reply("404 Not Found", ["Server: nginx/1.22.1"],
                                             "<html>404</html>"))
    obs = await _grab(replay, "127.20.14.98")
    assert obs.product == "nginx" and not {f.id for f in assess(obs)} & PLATFORM_CHECKS
    assert [p for p in replay.paths if not p.startswith("/netatlas-")] == ["/", *PLAIN]
    assert len(replay.paths) == len(PLAIN) + 2


# -- the real software, where this machine has it ---------------------------------------


def _free_ports(ip: str, n: int) -> list[int]:
    """``n`` distinct free ports of ``ip`` (held together while chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((ip, 0))
        ports = [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()
    assert 2024 not in ports
    return ports


def _wait(ip: str, port: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection((ip, port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, each in a session of its own, stopped afterwards with the
    children they left (TorchServe's and Spark's launchers exec or fork a JVM)."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)  # the group our own child leads
            try:
                p.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        time.sleep(0.5)  # the group's other members (the JVM) go with the signal


def _grab_real(ip: str, port: int) -> Observation:
    ep = Endpoint(ip, port)
    res = asyncio.run(grab_endpoint(ep, GrabOptions()))
    assert res.status == "success", res.error
    return observe(res, ep)


CLICKHOUSE = "/usr/sbin/clickhouse-server"
CH_CONFIG = """<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>{port}</http_port><tcp_port>{tcp}</tcp_port><listen_host>{ip}</listen_host>
  <path>{dir}/data/</path><tmp_path>{dir}/tmp/</tmp_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size>
</yandex>"""
CH_USERS = """<yandex><profiles><default></default></profiles><quotas><default></default>
</quotas><users><default><password>{password}</password><networks><ip>127.0.0.0/8</ip>
</networks><profile>default</profile><quota>default</quota></default></users></yandex>"""


# installed by scripts/install-system-deps.sh: in CI a missing server fails, not skips
@pytest.mark.skipif(not os.access(CLICKHOUSE, os.X_OK) and not os.environ.get("CI"),
                    reason="clickhouse-server not installed")
@pytest.mark.parametrize(("ip", "password", "expected"), [
    ("127.20.14.31", "", {"clickhouse-no-auth"}), ("127.20.14.32", "s3cret", set())])
def test_real_clickhouse(tmp_path: Path, started: list[subprocess.Popen[bytes]], ip: str,
                         password: str, expected: set[str]) -> None:
    port, tcp = _free_ports(ip, 2)
    (tmp_path / "config.xml").write_text(CH_CONFIG.format(port=port, tcp=tcp, ip=ip,
                                                          dir=tmp_path))
    (tmp_path / "users.xml").write_text(CH_USERS.format(password=password))
    started.append(subprocess.Popen([CLICKHOUSE, f"--config-file={tmp_path / 'config.xml'}"],
                                    cwd=tmp_path, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True))
    assert _wait(ip, port, 30), "clickhouse-server did not start"
    obs = _grab_real(ip, port)
    assert obs.product == "ClickHouse"
    assert {f.id for f in obs.risks or assess(obs)} == expected
    if expected:
        assert obs.version and obs.version[0].isdigit()


def _torchserve() -> str | None:
    return shutil.which("torchserve") or shutil.which("torchserve", path=str(
        Path(sys.executable).parent))


@pytest.mark.skipif(_torchserve() is None or shutil.which("java") is None,
                    reason="torchserve (PyPI) or java not installed")
@pytest.mark.parametrize(("ip", "token"), [("127.20.14.33", False), ("127.20.14.34", True)])
def test_real_torchserve(tmp_path: Path, started: list[subprocess.Popen[bytes]], ip: str,
                         token: bool) -> None:
    inference, management, metrics = _free_ports(ip, 3)
    (tmp_path / "store").mkdir()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "config.properties").write_text(
        f"inference_address=http://{ip}:{inference}\nmanagement_address=http://{ip}:"
        f"{management}\nmetrics_address=http://{ip}:{metrics}\nenable_envvars_config=false\n"
        + ("" if token else "disable_token_authorization=true\n"))
    exe = _torchserve()
    assert exe is not None
    started.append(subprocess.Popen(
        [exe, "--start", "--ncs", "--foreground", "--model-store", "store", "--ts-config",
         "config.properties"], cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    assert _wait(ip, management, 60), "torchserve did not start"
    for port, what in ((inference, "inference API"), (management, "management API")):
        obs = _grab_real(ip, port)
        assert obs.product == "TorchServe" and obs.version, obs.version
        found = {f.id: f.evidence for f in obs.risks or assess(obs)}
        if token:
            assert "ai-torchserve" not in found, found
        else:
            assert what in found["ai-torchserve"], found


def _spark_home() -> str | None:
    if os.environ.get("SPARK_HOME"):
        return os.environ["SPARK_HOME"]
    lab = app_site_packages("spark") / "pyspark"  # the lab's (scripts/install-lab-apps.sh)
    if (lab / "bin" / "spark-class").exists():
        return str(lab)
    try:
        import pyspark  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(Path(pyspark.__file__).parent)


@pytest.mark.skipif(_spark_home() is None or shutil.which("java") is None,
                    reason="pyspark (or SPARK_HOME) or java not installed")
def test_real_spark_master(tmp_path: Path, started: list[subprocess.Popen[bytes]]) -> None:
    ip = "127.20.14.35"
    home = _spark_home()
    assert home is not None
    port, ui, rest = _free_ports(ip, 3)
    conf = tmp_path / "spark.conf"  # the REST submission server too (off by default)
    conf.write_text(f"spark.master.rest.enabled true\nspark.master.rest.port {rest}\n")
    started.append(subprocess.Popen(
        [f"{home}/bin/spark-class", "org.apache.spark.deploy.master.Master", "--host", ip,
         "--port", str(port), "--webui-port", str(ui), "--properties-file", str(conf)],
        cwd=tmp_path,
        env={**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": ip,
             "SPARK_LOG_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    assert _wait(ip, ui, 90), "the Spark master did not start"
    obs = _grab_real(ip, ui)
    assert obs.product == "Apache Spark" and obs.version
    found = {f.id: f.evidence for f in obs.risks or assess(obs)}
    assert f"spark://{ip}:{port}" in found["spark-master-open"], found
    assert _wait(ip, rest, 30), "the REST submission server did not start"
    obs = _grab_real(ip, rest)
    assert (obs.product, obs.info) == ("Apache Spark", "REST submission server")
    assert "REST submission server" in {f.id: f.evidence for f in assess(obs)}[
        "spark-master-open"]


def _airflow() -> str | None:
    """The lab's Airflow (scripts/install-lab-apps.sh), else one on $PATH."""
    return BINARIES["airflow"] if Path(BINARIES["airflow"]).exists() else shutil.which("airflow")


@pytest.mark.skipif(_airflow() is None, reason="apache-airflow not installed")
@pytest.mark.parametrize(("ip", "all_admins"), [("127.20.14.36", True), ("127.20.14.37", False)])
def test_real_airflow(tmp_path: Path, started: list[subprocess.Popen[bytes]], ip: str,
                      all_admins: bool) -> None:
    """Airflow 3's api-server; with simple_auth_manager_all_admins every request is an
    admin's (the DAG list answers), without it the list is 401."""
    exe = _airflow()
    assert exe is not None
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(all_admins)}
    subprocess.run([exe, "db", "migrate"], cwd=tmp_path, env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    [port] = _free_ports(ip, 1)
    started.append(subprocess.Popen([exe, "api-server", "--host", ip, "--port", str(port)],
                                    cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True))
    assert _wait(ip, port, 120), "airflow api-server did not start"
    obs = _grab_real(ip, port)
    assert obs.product == "Apache Airflow" and obs.version
    found = {f.id: f.evidence for f in obs.risks or assess(obs)}
    if all_admins:
        assert "GET /api/v2/dags answered 200" in found["airflow-api-open"], found
    else:
        assert "airflow-api-open" not in found, found


# -- one scan of the replays through the CLI, stored and searched ---------------------


class _Servers:
    """The replays on 127.20.15.x, in a thread of their own for the CLI's scan."""

    def __init__(self, names: list[str], port: int) -> None:
        self.names, self.port = names, port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._run(),),
                                       daemon=True)

    async def _run(self) -> None:
        self.stop = asyncio.Event()
        servers = [await asyncio.start_server(ALL[n][0], f"127.20.15.{i + 1}", self.port)
                   for i, n in enumerate(self.names)]
        self.ready.set()
        await self.stop.wait()
        for s in servers:
            s.close()
            await s.wait_closed()

    def __enter__(self) -> _Servers:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def test_cli_scan_stores_product_and_finding(tmp_path: Path) -> None:
    names = ["vault-uninit", "clickhouse-open", "kubelet-anonymous", "airflow-open",
             "torchserve-management", "neo4j-auth"]
    port = 18555  # an unusual port, the same on every 127.20.15.x
    db = str(tmp_path / "p.db")
    cli = [sys.executable, "-m", "netatlas.cli.main"]
    with _Servers(names, port):
        out = subprocess.run(
            [*cli, "scan", f"127.20.15.1-{len(names)}", "-p", str(port), "--allow",
             "127.20.15.0/24", "--exclude-ports", "2024", "--db", db],
            capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = subprocess.run([*cli, "search", f"port:{port}", "--json", "--db", db],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    stored = {r["ip_str"]: r for r in map(json.loads, rows.splitlines())}
    got = {ALL_NAME: (stored[f"127.20.15.{i + 1}"].get("product"),
                      sorted(x["id"] for x in stored[f"127.20.15.{i + 1}"].get("risks") or []))
           for i, ALL_NAME in enumerate(names)}
    assert got == {
        "vault-uninit": ("Vault", ["vault-uninitialized"]),
        "clickhouse-open": ("ClickHouse", ["clickhouse-no-auth"]),
        "kubelet-anonymous": ("Kubernetes", ["kubelet-anonymous"]),
        "airflow-open": ("Apache Airflow", ["airflow-api-open"]),
        "torchserve-management": ("TorchServe", ["ai-torchserve"]),
        "neo4j-auth": ("Neo4j", []),
    }, got
    found = subprocess.run([*cli, "search", "risk:vault-uninitialized", "--json", "--db", db],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert [json.loads(x)["ip_str"] for x in found.splitlines()] == ["127.20.15.1"]
