"""Infrastructure platforms that answer their API without authentication: service
discovery and secrets (Consul, Vault), cluster managers (kubelet, YARN, Spark),
databases and search (Neo4j, ClickHouse, Solr), schedulers and consoles (Airflow,
Grafana, Kibana). Each check reads the API document grab kept under ``http.api`` (only
when the path answered as the platform does: grab/protocols/http_followups.py) and
quotes it. Documents are capped at 4 KiB, so fields are read with patterns that survive a
cut, not by parsing the whole document."""

from __future__ import annotations

import json
import re
from typing import Any

from ...model import Observation
from ._base import Check, as_text, http_section, page_title, quote
from .ai import api_doc


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _str(text: str, key: str) -> str | None:
    """The first string value of ``"key": "..."`` in a (possibly cut) JSON text."""
    m = re.search(rf'"{re.escape(key)}"\s*:\s*"([^"]*)"', text)
    return m.group(1) if m else None


def _num(text: str, key: str) -> str | None:
    m = re.search(rf'"{re.escape(key)}"\s*:\s*(-?\d+)', text)
    return m.group(1) if m else None


def _names(text: str, key: str, limit: int = 3) -> str:
    """Up to ``limit`` values of ``key``, quoted, for the evidence."""
    found = re.findall(rf'"{re.escape(key)}"\s*:\s*"([^"]+)"', text)
    if not found:
        return ""
    return " " + quote(", ".join(found[:limit]) + (", …" if len(found) > limit else ""), 60)


def consul_acl_off(obs: Observation) -> str | None:
    """``/v1/agent/self`` needs ``agent:read``: a 200 to a request without a token means
    the ACL system is off or its anonymous token may read the agent (and, with script
    checks enabled, register one: code execution)."""
    text = api_doc(obs, "consul_self")
    m = re.search(r'"Config"\s*:\s*\{([^{}]*)', text)
    if not m:
        return None
    cfg = m.group(1)
    return (f"GET /v1/agent/self answered 200 without a token: Consul "
            f"{quote(_str(cfg, 'Version'))}, datacenter {quote(_str(cfg, 'Datacenter'))}, "
            f"node {quote(_str(cfg, 'NodeName'))}")


def _vault(obs: Observation) -> dict[str, Any] | None:
    doc = _json(api_doc(obs, "vault_health"))
    if isinstance(doc, dict) and isinstance(doc.get("sealed"), bool) \
            and isinstance(doc.get("initialized"), bool):
        return doc
    return None


def _vault_facts(doc: dict[str, Any]) -> str:
    facts = f"version {quote(doc.get('version'))}"
    if doc.get("cluster_name"):
        facts += f", cluster {quote(doc['cluster_name'])}"
    return facts


def vault_uninitialized(obs: Observation) -> str | None:
    """Whoever reaches an uninitialized Vault first can initialize it and hold its
    unseal keys and root token."""
    doc = _vault(obs)
    if doc is None or doc["initialized"] is not False:
        return None
    return f"GET /v1/sys/health: initialized false, sealed {doc['sealed']} ({_vault_facts(doc)})"


def vault_unsealed(obs: Observation) -> str | None:
    """An unsealed Vault reachable from here: its API is one token away (a sealed one
    serves nothing, so it is left alone)."""
    doc = _vault(obs)
    if doc is None or doc["initialized"] is not True or doc["sealed"] is not False:
        return None
    role = "standby" if doc.get("standby") else "active"
    return f"GET /v1/sys/health: initialized, unsealed, {role} ({_vault_facts(doc)})"


_UID = re.compile(r'"uid"\s*:')


def kubelet_anonymous(obs: Observation) -> str | None:
    """The kubelet listed its pods to an anonymous client (anonymous auth on with
    AlwaysAllow authorization, or the read-only port 10255)."""
    text = api_doc(obs, "kubelet_pods")
    if not re.match(r'\s*\{\s*"kind"\s*:\s*"PodList"', text):
        return None
    doc = _json(text)
    if isinstance(doc, dict):
        count = str(len(doc.get("items") or []))
    else:  # cut by the cap: at least the pods it shows
        count = str(len(_UID.findall(text))) + "+"
    return (f"GET /pods answered 200 without credentials: PodList, {count} pod(s)"
            f"{_names(text, 'name')}")


def neo4j_no_auth(obs: Observation) -> str | None:
    """Neo4j's discovery document at / is public; ``/db/neo4j/tx`` is 401 to a client
    without credentials unless authentication is off (then the resource itself answers:
    405, it takes POST only)."""
    text = api_doc(obs, "neo4j_tx")
    if not text or re.search(r"unauthori[sz]ed|authenticat", text, re.I):
        return None
    version = _str(as_text(http_section(obs).get("html")), "neo4j_version")
    shown = f" (Neo4j {quote(version)})" if version else ""
    said = re.sub(r"<[^>]*>", " ", text)  # Jetty's error page: its words, not its markup
    return (f"GET /db/neo4j/tx reached the database API without credentials: "
            f"{quote(said, 60)}{shown}")


def clickhouse_no_auth(obs: Observation) -> str | None:
    version = api_doc(obs, "clickhouse_version").strip()
    if not version:
        return None
    return f"GET /?query=SELECT version() answered 200 without credentials: {quote(version)}"


def solr_no_auth(obs: Observation) -> str | None:
    text = api_doc(obs, "solr_system")
    version = _str(text, "solr-spec-version")
    if not version:
        return None
    mode = _str(text, "mode")
    return (f"GET /solr/admin/info/system answered 200 without credentials: Solr "
            f"{quote(version)}" + (f", mode {quote(mode)}" if mode else ""))


def yarn_open(obs: Observation) -> str | None:
    """The ResourceManager's REST API answered without Kerberos: the same API takes
    ``new-application`` and submits it, the well-known way to run code on a cluster."""
    text = api_doc(obs, "yarn_cluster_info")
    if not re.search(r'"clusterInfo"\s*:', text):
        return None
    return (f"GET /ws/v1/cluster/info answered 200 without credentials: ResourceManager "
            f"{quote(_str(text, 'resourceManagerVersion'))}, state {quote(_str(text, 'state'))}")


def spark_master_open(obs: Observation) -> str | None:
    """The standalone master's status (``/json/``) answered: its UI has no login, and a
    master reachable like this takes applications unless ``spark.authenticate`` is on.
    Its REST submission server (6066) answering / with its own error document takes
    applications over HTTP from anyone; its RPC port (7077) failing our RpcRequest with
    Spark's stack rather than asking for SASL has ``spark.authenticate`` off: spark-submit
    from anyone is taken."""
    rpc = obs.sections.get("spark")
    if isinstance(rpc, dict) and rpc.get("auth_required") is False:
        return ("Spark RPC took an RpcRequest without authentication (spark.authenticate"
                f" off): {quote(str(rpc.get('error') or ''), 60)}")
    html = as_text(http_section(obs).get("html"))
    if re.match(r'\s*\{\s*"action"\s*:\s*"ErrorResponse"', html) and "serverSparkVersion" in html:
        return (f"GET / answered by the REST submission server (Spark "
                f"{quote(_str(html, 'serverSparkVersion'))}): {quote(_str(html, 'message'), 60)}")
    text = api_doc(obs, "spark_master")
    url = _str(text, "url")
    if not url or not url.startswith("spark://"):
        return None
    return (f"GET /json/ answered 200: Spark master {quote(url)}, status "
            f"{quote(_str(text, 'status'))}, {_num(text, 'aliveworkers')} alive worker(s)")


def airflow_api_open(obs: Observation) -> str | None:
    """The DAG list is 401 unless the API lets anyone in (Airflow 2's auth backend
    ``default``, Airflow 3's simple auth manager with ``all_admins``)."""
    for name, path in (("airflow_dags", "/api/v1/dags"), ("airflow3_dags", "/api/v2/dags")):
        text = api_doc(obs, name)
        if re.match(r'\s*\{\s*"dags"\s*:\s*\[', text):
            total = _num(text, "total_entries")
            count = f"{total} DAG(s)" if total else "DAGs"
            return f"GET {path} answered 200 without credentials: {count}{_names(text, 'dag_id')}"
    return None


def grafana_anonymous(obs: Observation) -> str | None:
    """``/api/search`` is 401 unless anonymous access is enabled (then it lists the
    dashboards the anonymous role may view)."""
    text = api_doc(obs, "grafana_search").strip()
    if not text.startswith("["):
        return None
    doc = _json(text)
    count = len(doc) if isinstance(doc, list) else text.count('"uid"')
    return (f"GET /api/search answered 200 without login (anonymous access): {count} "
            f"dashboard(s) or folder(s){_names(text, 'title')}"
            + (f", title {quote(page_title(obs))}" if page_title(obs) else ""))


def kibana_anonymous(obs: Observation) -> str | None:
    """The full ``/api/status`` (with the version) goes only to an authenticated user
    when security is on; ``status.allowAnonymous`` alone gives a redacted one."""
    text = api_doc(obs, "kibana_status")
    version = re.search(r'"version"\s*:\s*\{\s*"number"\s*:\s*"([^"]+)"', text)
    if not version:
        return None
    level = re.search(r'"overall"\s*:\s*\{\s*"level"\s*:\s*"([^"]+)"', text)
    return (f"GET /api/status answered the full status without credentials: Kibana "
            f"{quote(version.group(1))}" + (f", overall {quote(level.group(1))}" if level else ""))


CHECKS: tuple[Check, ...] = (
    Check("consul-acl-off", "high", "Consul agent API answers without a token",
          consul_acl_off),
    Check("vault-uninitialized", "high", "Vault not initialized (anyone can take it over)",
          vault_uninitialized),
    Check("vault-unsealed", "medium", "Vault unsealed and reachable", vault_unsealed),
    Check("kubelet-anonymous", "high", "Kubelet API answers anonymous requests",
          kubelet_anonymous),
    Check("neo4j-no-auth", "high", "Neo4j HTTP API without authentication", neo4j_no_auth),
    Check("clickhouse-no-auth", "high", "ClickHouse HTTP interface runs queries without a "
          "password", clickhouse_no_auth),
    Check("solr-no-auth", "high", "Solr admin API without authentication", solr_no_auth),
    Check("yarn-rm-open", "high", "Hadoop YARN ResourceManager API open (application "
          "submission)", yarn_open),
    Check("spark-master-open", "high", "Spark standalone master exposed", spark_master_open),
    Check("airflow-api-open", "high", "Airflow REST API answers without credentials",
          airflow_api_open),
    Check("grafana-anonymous", "medium", "Grafana anonymous access enabled",
          grafana_anonymous),
    Check("kibana-anonymous", "high", "Kibana answers without authentication",
          kibana_anonymous),
)
