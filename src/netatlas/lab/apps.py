"""Lab daemons: web applications and AI / ML servers behind HTTP, the product being the
application: Jupyter without token, a web server exposing its git checkout, .env and
listings, InfluxDB with and without auth, Tomcat, TensorBoard and Streamlit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from netatlas.lab.daemon import BINARIES, Daemon, Workspace, by_name, mkdir, one, write
from netatlas.lab.services import LabError, ServiceSpec
from netatlas.lab.templates import render

GIT = "/usr/bin/git"
TOMCAT_HOME = Path("/usr/share/tomcat10")
TOMCAT_CONF = Path("/etc/tomcat10")
TOMCAT_ROOT_APP = Path("/usr/share/tomcat10-root/default_root")
# A fake, harmless .env: what a careless deployment leaks, minus any real secret.
FAKE_ENV = "# netatlas lab: not a secret\nAPP_ENV=lab\nDB_PASSWORD=not-a-real-password\n"


def _jupyter_open(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """Jupyter Server with neither token nor password: anyone who connects runs code."""
    spec = one(specs)
    mkdir(d, 0o700)
    mkdir(d / "root", 0o700)
    return ["/usr/bin/env", f"HOME={d}", f"JUPYTER_RUNTIME_DIR={d / 'runtime'}",
            f"JUPYTER_CONFIG_DIR={d / 'config'}", f"JUPYTER_DATA_DIR={d / 'data'}",
            BINARIES["jupyter"], f"--ServerApp.ip={spec.ip}", f"--ServerApp.port={spec.port}",
            "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
            "--IdentityProvider.token=", "--ServerApp.password_required=False",
            f"--ServerApp.root_dir={d / 'root'}", "--allow-root"]


JUPYTER_LAB = Path(sys.executable).parent / "jupyter-lab"  # jupyterlab, in the dev extras


def _jupyterlab_open(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """``jupyter lab`` as a new user starts it without a token: / redirects to /lab, and
    the product is the Jupyter Server under it."""
    spec = one(specs)
    mkdir(d, 0o700)
    mkdir(d / "root", 0o700)
    return ["/usr/bin/env", f"HOME={d}", f"JUPYTER_RUNTIME_DIR={d / 'runtime'}",
            f"JUPYTER_CONFIG_DIR={d / 'config'}", f"JUPYTER_DATA_DIR={d / 'data'}",
            str(JUPYTER_LAB), f"--ServerApp.ip={spec.ip}", f"--ServerApp.port={spec.port}",
            "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
            "--ServerApp.token=", "--ServerApp.password=", "--LabApp.news_url=",
            f"--ServerApp.root_dir={d / 'root'}", "--allow-root"]


def _git(www: Path, *args: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(www.parent), "GIT_CONFIG_NOSYSTEM": "1",
           "LC_ALL": "C"}
    proc = subprocess.run([GIT, "-C", str(www), "-c", "user.name=netatlas lab",
                           "-c", "user.email=lab@lab.netatlas.test", *args],
                          capture_output=True, timeout=60, check=False, env=env)
    if proc.returncode != 0:
        raise LabError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace')[-500:]}")


def _exposed_site(www: Path) -> None:
    """A docroot that is a real git checkout, with a .env and no index page."""
    mkdir(www, 0o755)
    (www / "README.txt").write_text("Lab site deployed with git clone.\n")
    mkdir(www / "assets", 0o755)
    (www / "assets" / "app.txt").write_text("static asset\n")
    write(www / ".env", FAKE_ENV)
    if not (www / ".git" / "HEAD").is_file():
        _git(www, "init", "-q", "-b", "main")
        _git(www, "add", "README.txt", "assets")
        _git(www, "commit", "-q", "-m", "lab site")
    for p in (www / ".git", *(www / ".git").rglob("*")):  # nginx workers run as www-data
        p.chmod(0o755 if p.is_dir() else 0o644)


def _web_exposed(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    tmp = mkdir(d / "tmp", 0o700, "www-data")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        mkdir(tmp / sub, 0o700, "www-data")
    _exposed_site(d / "www")
    conf = write(d / "nginx.conf", render("nginx-exposed.conf.in", dir=d, ip=spec.ip,
                                           port=spec.port))
    return [BINARIES["nginx"], "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)]


def _influxdb(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """InfluxDB 1.x; with the auth-required tag, auth-enabled and no user at all (every
    query is refused until someone creates an admin)."""
    spec = one(specs)
    mkdir(d, 0o755)
    auth = "true" if "auth-required" in spec.tags else "false"
    # the RPC (backup) port beside the API, on the same address
    conf = write(d / "influxdb.conf", render("influxdb.conf.in", dir=d, ip=spec.ip,
                                              port=spec.port, rpc_port=spec.port + 2,
                                              auth=auth))
    return [BINARIES["influxdb"], "run", "-config", str(conf)]


CUSTOM_INDEX = """<!doctype html>
<html><head><title>Acme Intranet</title></head>
<body><h1>Acme Intranet</h1><p>Welcome. Nothing here names the server.</p></body></html>
"""


def _tomcat(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    """Debian's Tomcat with its own CATALINA_BASE: Debian's default ROOT page on one
    address, a custom index page on the other (one JVM, two services)."""
    spec, custom = by_name(specs, "tomcat"), by_name(specs, "tomcat-custom")
    mkdir(d, 0o755)
    conf = mkdir(d / "conf", 0o755)
    for sub in ("logs", "temp", "work", "webapps", "webapps-custom"):
        mkdir(d / sub, 0o755)
    mkdir(d / "webapps-custom" / "ROOT", 0o755)
    write(d / "webapps-custom" / "ROOT" / "index.html", CUSTOM_INDEX)
    for name in ("web.xml", "context.xml", "catalina.properties"):
        shutil.copyfile(TOMCAT_CONF / name, conf / name)
    # console logging only: the lab log file gets it
    write(conf / "logging.properties",
          "handlers = java.util.logging.ConsoleHandler\n"
          ".handlers = java.util.logging.ConsoleHandler\n"
          "java.util.logging.ConsoleHandler.level = INFO\n")
    write(conf / "server.xml", render("tomcat-server.conf.in", ip=spec.ip, port=spec.port,
                                      custom_ip=custom.ip, custom_port=custom.port))
    root = d / "webapps" / "ROOT"
    if not root.is_dir():
        shutil.copytree(TOMCAT_ROOT_APP, root)
    # env execs catalina.sh, which execs java ("run"): the recorded PID is the JVM.
    return ["/usr/bin/env", f"CATALINA_HOME={TOMCAT_HOME}", f"CATALINA_BASE={d}",
            f"CATALINA_TMPDIR={d / 'temp'}",
            "JAVA_OPTS=-Xmx128m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
            " -XX:-UsePerfData"  # no /tmp/hsperfdata_*
            " -Djava.awt.headless=true"
            # IPv4 sockets: the lab reads each bound address from /proc/net/tcp
            " -Djava.net.preferIPv4Stack=true",
            BINARIES["tomcat"], "run"]


def _tensorboard(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    logdir = mkdir(d / "logs", 0o755)
    mkdir(d / "tmp", 0o700)  # its .tensorboard-info goes to $TMPDIR
    # --load_fast=false: no separate data-server process listening on another address
    return ["/usr/bin/env", f"HOME={d}", f"TMPDIR={d / 'tmp'}", BINARIES["tensorboard"],
            "--logdir", str(logdir),
            "--host", spec.ip, "--port", str(spec.port), "--load_fast=false"]


STREAMLIT_APP = """import streamlit as st

st.title("netatlas lab")
st.write("A Streamlit app with no authentication in front of it.")
"""


def _streamlit(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o755)
    app = write(d / "app.py", STREAMLIT_APP)
    mkdir(d / "tmp", 0o700)
    # headless, no usage statistics, no file watcher: nothing but the app's own port
    return ["/usr/bin/env", f"HOME={d}", f"TMPDIR={d / 'tmp'}", BINARIES["streamlit"], "run",
            str(app),
            "--server.address", spec.ip, "--server.port", str(spec.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false"]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("jupyter-open", "jupyter", _jupyter_open, ready_path="/api/status"),
    Daemon("jupyterlab-open", "jupyter", _jupyterlab_open, ready_path="/api/status"),
    Daemon("web-exposed", "nginx", _web_exposed),
    Daemon("influxdb", "influxdb", _influxdb),
    Daemon("influxdb-auth", "influxdb", _influxdb),
    Daemon("tomcat", "tomcat", _tomcat, ready_timeout=60.0),
    Daemon("tensorboard", "tensorboard", _tensorboard),
    Daemon("streamlit", "streamlit", _streamlit),
)
