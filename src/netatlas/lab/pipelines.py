"""Lab daemons: data-pipeline platforms from PyPI, each in a virtualenv of its own
(``.venv/apps/<name>``, made by scripts/install-lab-apps.sh: their dependency pins clash
with netatlas's). Both run as a new user starts them, with their defaults, on lab
addresses:

- Spark's standalone master (pyspark): its RPC port, its web UI — which lists workers
  and applications to anyone and lets anyone kill them — and its REST submission server
  (``spark.master.rest.enabled``), none of which asks who is connecting;
- Airflow's API server (``airflow api-server``, SQLite metadata in its folder) twice: as
  installed, where the UI and API want a login (``/api/v2/version`` still answers), and
  in the simple auth manager's "all admins" mode that quick starts turn on, where
  anyone lists and triggers DAGs through the REST API.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from netatlas.lab.daemon import BINARIES, Daemon, Workspace, by_name, mkdir, one
from netatlas.lab.services import LabError, ServiceSpec

# Debian's JRE (default-jre-headless, which tomcat10 brings); Spark finds java here.
JAVA_HOME = "/usr/lib/jvm/default-java"
# The lab reads listeners from /proc/net/tcp: IPv4 sockets, not Java's dual-stack ones.
_JVM = "-Djava.net.preferIPv4Stack=true -XX:+UseSerialGC -XX:TieredStopAtLevel=1"


def _spark_master(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    rpc, ui = by_name(specs, "spark-rpc"), by_name(specs, "spark-ui")
    rest = by_name(specs, "spark-rest")
    mkdir(d, 0o700)
    tmp = mkdir(d / "tmp", 0o700)
    # spark-class execs the JVM: the recorded PID is the master itself
    return ["/usr/bin/env", f"HOME={d}", f"JAVA_HOME={JAVA_HOME}", f"SPARK_LOCAL_IP={rpc.ip}",
            "SPARK_NO_DAEMONIZE=1", f"SPARK_LOG_DIR={d}", f"SPARK_LOCAL_DIRS={tmp}",
            "SPARK_DAEMON_MEMORY=192m",
            f"SPARK_MASTER_OPTS={_JVM} -Djava.io.tmpdir={tmp}"
            f" -Dspark.master.rest.enabled=true -Dspark.master.rest.port={rest.port}",
            BINARIES["spark"], "org.apache.spark.deploy.master.Master",
            "--host", rpc.ip, "--port", str(rpc.port), "--webui-port", str(ui.port)]


def _airflow(ws: Workspace, d: Path, specs: tuple[ServiceSpec, ...]) -> list[str]:
    spec = one(specs)
    mkdir(d, 0o700)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(d), "AIRFLOW_HOME": str(d),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(d / "logs")}
    if "no-auth" in spec.tags:
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    # the metadata database (SQLite in the folder), made once: a few seconds
    if not (d / "airflow.db").exists():
        proc = subprocess.run([BINARIES["airflow"], "db", "migrate"], env=env,
                              capture_output=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise LabError(f"{spec.name}: airflow db migrate failed:"
                           f" {proc.stderr.decode(errors='replace')[-2000:]}")
    return ["/usr/bin/env", *(f"{k}={v}" for k, v in env.items()), BINARIES["airflow"],
            "api-server", "--host", spec.ip, "--port", str(spec.port), "--workers", "1"]


DAEMONS: tuple[Daemon, ...] = (
    Daemon("spark", "spark", _spark_master, ready_timeout=90.0),
    Daemon("airflow", "airflow", _airflow, ready_timeout=120.0),
    Daemon("airflow-open", "airflow", _airflow, ready_timeout=120.0),
)
