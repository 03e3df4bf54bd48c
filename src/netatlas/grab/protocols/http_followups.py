"""Which well-known API paths to ask an HTTP endpoint for, chosen from what ``GET /``
showed (sans-IO: a table and pure functions; ``http.py`` sends the requests).

Over HTTP the product is the application behind the web server: Jupyter, Ollama, vLLM,
TensorBoard, InfluxDB, Tomcat... Most of them name themselves and their version only on
one API path. A few paths are asked of every endpoint (``ALWAYS``); every other one only
when the first response carries that application's mark, so a plain web server gets no
extra request. Each answer is kept under ``http.api.<name>`` only when it is what the
path should return (``accept``): a soft-404 page is never mistaken for an API document.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import elastic

PART_OF = "http"  # part of that protocol, not one of its own (protocols/__init__.py)

API_SAMPLE = 4096  # characters kept of each document
MAX_FOLLOW_UPS = 4  # conditional paths per endpoint, at most

JSON = "json"  # accept: a JSON document (object, array or string)

# Marks on GET / shared by several rows.
_FASTAPI_404 = {"status": r"^404$", "body": r'^\{"detail":\s*"Not Found"\}\s*$'}
_EMPTY_405 = {"status": r"^405$", "body": r"^\s*$"}  # a POST-only root (TGI's router)
_JUPYTER = ({"header:content-security-policy": r"report-uri /api/security/csp-report"},
            # JupyterLab / Notebook 7 send / to their app page (no CSP on the redirect)
            {"status": r"^30[12]$", "redirect": r"^/(lab|tree)(?:[/?]|$)"},
            {"title": r"^(Jupyter Server|Jupyter Notebook|JupyterLab|Home Page - Select or "
                      r"create a notebook)$"})
_OLLAMA = ({"body": r"^Ollama is running"},)
_OPENAI = (_FASTAPI_404, _EMPTY_405,
           {"title": r"llama\.cpp|^LocalAI|^vLLM|^LM Studio|^text-generation-webui"})
# Go's own 404 (net/http's NotFound) on /: kubelet, Vault without its UI, etcd, InfluxDB
_GO_404 = {"status": r"^404$", "body": r"^404 page not found\s*$"}
# a redirect of / to one path, relative or absolute (Jetty makes it absolute)
_TO = r"^(?:https?://[^/]+)?"
_AIRFLOW = ({"status": r"^30[12]$", "redirect": _TO + r"/home/?$"},)
# TorchServe's JSON error on GET / (405 on the inference and the management port)
_TORCHSERVE = ({"body": r'"type":\s*"(?:MethodNotAllowed|ResourceNotFound)Exception"'},)

Condition = Mapping[str, str]  # field -> regex; every field of one condition must match


@dataclass(frozen=True, slots=True)
class FollowUp:
    name: str  # key under http.api
    path: str
    when: tuple[Condition, ...] = ()  # any one condition selects it; () = always
    accept: str = JSON  # JSON, or a regex the (stripped) body must match in full
    statuses: tuple[int, ...] = (200,)  # the replies that may carry the document
    # False: the reply feeds a protocol's parser (its section holds what it said), not
    # http.api — no raw copy beside the parsed one
    keep: bool = True


# The order is the order of the requests; ALWAYS rows keep the shape http.api had first.
FOLLOW_UPS: tuple[FollowUp, ...] = (
    # always: etcd / Docker / Kubernetes / vLLM (/version), Jupyter (/api), Prometheus
    FollowUp("version", "/version"),
    FollowUp("api", "/api"),
    FollowUp("buildinfo", "/api/v1/status/buildinfo"),
    # notebooks: /api/status answers 200 only to an authenticated (or token-less) client
    FollowUp("jupyter_status", "/api/status", _JUPYTER),
    # model servers
    FollowUp("ollama_version", "/api/version", _OLLAMA),
    FollowUp("ollama_tags", "/api/tags", _OLLAMA),
    FollowUp("models", "/v1/models", _OPENAI),
    FollowUp("tgi_info", "/info", (_EMPTY_405,)),
    FollowUp("openapi", "/openapi.json",  # FastAPI apps: LangServe, InsightFace-REST...
             (_FASTAPI_404, {"status": r"^30[1278]$", "redirect": r"^/docs/?$"})),
    FollowUp("chroma_version", "/api/v2/version", (_FASTAPI_404,)),
    # ML tooling
    FollowUp("comfyui_stats", "/system_stats", ({"title": r"^ComfyUI$"},)),
    FollowUp("ray_version", "/api/version", ({"title": r"^Ray Dashboard$"},)),
    FollowUp("gradio_config", "/config", ({"body": r"window\.gradio_config|gradio-app"},
                                          {"title": r"^(Gradio|Stable Diffusion)$"})),
    FollowUp("streamlit_health", "/_stcore/health", ({"title": r"^Streamlit$"},),
             accept=r"ok"),
    FollowUp("mlflow_version", "/version",  # MLflow 3's Host guard spares /version
             ({"title": r"^MLflow$"},
              {"status": r"^403$", "body": r"^Invalid Host header - possible DNS rebinding"}),
             accept=r"\d+(?:\.\d+)+[\w.+\-]*"),
    FollowUp("tensorboard_env", "/data/environment",
             ({"title": r"^TensorBoard$"}, {"body": r'<meta name="tb-relative-root"'})),
    # face recognition and face swap (identify/rules/biometric.yaml)
    FollowUp("frigate_version", "/api/version", ({"title": r"^Frigate$"},),
             accept=r"\d+(?:\.\d+)+(?:-[0-9a-f]+)?"),
    FollowUp("reactor_models", "/reactor/models", ({"title": r"^Stable Diffusion$"},)),
    # Elasticsearch / OpenSearch: GET / named the cluster; only an open one is asked for
    # its index list, parsed whole into the elastic section by elastic.py (indices,
    # index_count, docs_total, health): no rule, check or field reads the reply itself
    FollowUp("elastic_indices", elastic.INDICES_PATH, elastic.WHEN, keep=False),
    # vector databases (Qdrant and Elasticsearch name themselves on GET /)
    FollowUp("weaviate_meta", "/v1/meta", ({"body": r"weaviate\.io|\"/v1/meta\""},)),
    # data stores and consoles
    FollowUp("influxdb_query", "/query?q=SHOW%20DATABASES",  # 1.x: 401 when auth is on
             ({"header:x-influxdb-version": r"^v?1\."},)),
    FollowUp("influxdb_setup", "/api/v2/setup",  # 2.x: {"allowed": true} = never set up
             ({"header:x-influxdb-version": r"^v?2\."},)),
    FollowUp("grafana_health", "/api/health",
             ({"title": r"^Grafana$"}, {"status": r"^302$", "redirect": r"^/login$"})),
    FollowUp("grafana_search", "/api/search",  # answers only an anonymous-enabled Grafana
             ({"title": r"^Grafana$"},)),
    FollowUp("kibana_status", "/api/status", ({"header:kbn-name": r"."},)),
    # infrastructure platforms (assess/checks/platforms.py)
    FollowUp("consul_self", "/v1/agent/self",  # 403 when ACLs deny the anonymous token
             ({"status": r"^301$", "redirect": r"^/ui/?$"},
              {"status": r"^200$", "body": r"^Consul Agent: UI disabled"})),
    FollowUp("vault_health", "/v1/sys/health",  # the JSON comes with every state's code
             ({"status": r"^307$", "redirect": r"^/ui/?$"},
              {**_GO_404, "header:cache-control": r"^no-store$"}),
             statuses=(200, 429, 472, 473, 474, 501, 503, 530)),
    FollowUp("kubelet_pods", "/pods", (_GO_404,)),
    # Neo4j's discovery document is public; /db/... is 401 unless auth is off
    FollowUp("neo4j_tx", "/db/neo4j/tx", ({"body": r'(?s)^\s*\{.*"neo4j_version"\s*:'},),
             accept=r"(?s).+", statuses=(401, 405)),
    FollowUp("clickhouse_version", "/?query=SELECT%20version()",
             ({"status": r"^200$", "body": r"^Ok\.\s*$"},), accept=r"\d+(?:\.\d+)+"),
    FollowUp("solr_system", "/solr/admin/info/system?wt=json",
             ({"status": r"^30[12]$", "redirect": _TO + r"/solr/?$"},)),
    FollowUp("yarn_cluster_info", "/ws/v1/cluster/info",
             ({"status": r"^30[12]$", "redirect": _TO + r"/cluster/?$"},)),
    FollowUp("spark_master", "/json/", ({"title": r"^Spark Master at "},)),
    FollowUp("airflow_health", "/api/v1/health", _AIRFLOW),
    FollowUp("airflow_version", "/api/v1/version", _AIRFLOW),
    FollowUp("airflow_dags", "/api/v1/dags", _AIRFLOW),  # 401 unless the API lets anyone in
    # Airflow 3 serves its app page at / (uvicorn) and moved the API to /api/v2
    FollowUp("airflow3_version", "/api/v2/version", ({"title": r"^Airflow$"},)),
    FollowUp("airflow3_dags", "/api/v2/dags", ({"title": r"^Airflow$"},)),
    # model servers without a web page: Triton answers / with an empty 400
    FollowUp("triton_server", "/v2", ({"status": r"^400$", "body": r"^\s*$"},)),
    FollowUp("torchserve_api", "/api-description", _TORCHSERVE),  # public even with a token
    FollowUp("torchserve_ping", "/ping", _TORCHSERVE),  # inference port
    FollowUp("torchserve_models", "/models", _TORCHSERVE),  # management port
    # Tomcat's docs app, or its 404 page, names the release its default page hides
    FollowUp("tomcat_docs", "/docs/", ({"title": r"^Apache Tomcat"},),
             accept=r"(?s).*?Apache Tomcat.*", statuses=(200, 404)),
)


# The error page: one GET of a path no site has names the server behind a custom index
# page (Tomcat's error report valve, a framework's own 404). Kept as ``http.error_page``.
ERROR_STATUSES = (400, 403, 404, 405, 410, 500)


def error_page_path() -> str:
    """A random path that no site serves (a fresh one each time)."""
    return "/netatlas-" + secrets.token_hex(6)


def error_page(status: int | None, body: bytes) -> dict[str, Any] | None:
    """``{status, body}`` (the body capped) when the reply is an error page with a body,
    else None: a site that answers 200 to everything tells nothing here."""
    if status not in ERROR_STATUSES or not body.strip():
        return None
    return {"status": status, "body": body[:API_SAMPLE].decode("utf-8", errors="replace")}


def first_response_fields(section: Mapping[str, Any]) -> dict[str, str]:
    """The texts the conditions look at, from the ``http`` section of ``GET /``."""
    headers = section.get("headers")
    out = {
        "status": str(section.get("status") or ""),
        "server": _text(section.get("server")),
        "title": _text(section.get("title")),
        "body": _text(section.get("html")),
        "redirect": _text(section.get("redirect")),
    }
    if isinstance(headers, Mapping):
        for k, v in headers.items():
            out[f"header:{str(k).lower()}"] = _text(v)
    return out


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


_COMPILED: dict[str, re.Pattern[str]] = {}


def _rx(pattern: str) -> re.Pattern[str]:
    rx = _COMPILED.get(pattern)
    if rx is None:
        rx = _COMPILED[pattern] = re.compile(pattern)
    return rx


def _holds(cond: Condition, fields: Mapping[str, str]) -> bool:
    for key, pattern in cond.items():
        value = fields.get(key)
        if value is None or not _rx(pattern).search(value):
            return False
    return True


def select(section: Mapping[str, Any]) -> list[FollowUp]:
    """The rows to ask for, in table order: every ALWAYS row, then the conditional rows
    whose condition ``GET /`` met (at most ``MAX_FOLLOW_UPS`` of those)."""
    fields = first_response_fields(section)
    chosen: list[FollowUp] = []
    extra = 0
    for row in FOLLOW_UPS:
        if not row.when:
            chosen.append(row)
        elif extra < MAX_FOLLOW_UPS and any(_holds(c, fields) for c in row.when):
            chosen.append(row)
            extra += 1
    return chosen


def accepted(row: FollowUp, status: int | None, body: bytes) -> str | None:
    """The document to keep for ``row`` (capped), or None when the reply is not it: only
    a reply with one of the row's statuses (200) whose body has the expected shape."""
    if status not in row.statuses or not body:
        return None
    text = body[:API_SAMPLE].decode("utf-8", errors="replace")
    if row.accept == JSON:
        if body.lstrip()[:1] not in (b"{", b"[", b'"'):
            return None
        return text
    if not _rx(row.accept).fullmatch(text.strip()):
        return None
    return text
