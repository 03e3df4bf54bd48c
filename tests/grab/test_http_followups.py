"""Follow-up requests chosen from GET /: the selection table on captured first responses,
what a plain web server is asked (no more than before), and real lab applications."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.codecs.httpparse import parse_response
from netatlas.grab.protocols.http import http_section
from netatlas.grab.protocols.http_followups import (
    FOLLOW_UPS,
    MAX_FOLLOW_UPS,
    FollowUp,
    accepted,
    error_page,
    error_page_path,
    select,
)
from netatlas.identify import Identifier
from netatlas.model import Endpoint
from tests.assess import platform_samples as ps
from tests.labsvc import lab_named

from .conftest import serve
from .test_http import TinyHttp, grab_requests

ALWAYS = ["version", "api", "buildinfo"]

# First responses as servers send them (headers trimmed to what matters).
NGINX = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
         b"Content-Length: 46\r\n\r\n<html><title>netatlas lab</title>hello</html>\n")
JUPYTER = (b"HTTP/1.1 200 OK\r\nServer: TornadoServer/6.6.1\r\nContent-Type: text/html\r\n"
           b"Content-Security-Policy: frame-ancestors 'self'; report-uri "
           b"/api/security/csp-report\r\nContent-Length: 37\r\n\r\n"
           b"<html><title>Jupyter Server</title>\n")
OLLAMA = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
          b"Content-Length: 17\r\n\r\nOllama is running")
FASTAPI_404 = (b"HTTP/1.1 404 Not Found\r\nserver: uvicorn\r\ncontent-length: 22\r\n"
               b"content-type: application/json\r\n\r\n{\"detail\":\"Not Found\"}")
TGI_405 = b"HTTP/1.1 405 Method Not Allowed\r\nallow: POST\r\ncontent-length: 0\r\n\r\n"
INFLUX = (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
          b"X-Influxdb-Build: OSS\r\nX-Influxdb-Version: 1.6.7~rc0\r\n"
          b"Content-Length: 19\r\n\r\n404 page not found\n")
GRAFANA = (b"HTTP/1.1 302 Found\r\nCache-Control: no-store\r\nLocation: /login\r\n"
           b"Content-Length: 29\r\n\r\n<a href=\"/login\">Found</a>.\n\n")
TENSORBOARD = (b"HTTP/1.1 200 OK\r\nServer: Werkzeug/3.1.9 Python/3.11.7\r\n"
               b"Content-Type: text/html\r\nContent-Length: 78\r\n\r\n"
               b'<!doctype html><meta name="tb-relative-root" content="./"><title>TensorBoard')
TOMCAT = (b"HTTP/1.1 200 \r\nContent-Type: text/html\r\nContent-Length: 31\r\n\r\n"
          b"<title>Apache Tomcat</title>It works")
# `jupyter lab --ServerApp.token=''` (jupyterlab 4.6.6, jupyter_server 2.21.1): / -> /lab,
# and no CSP header on the redirect
JUPYTERLAB = (b"HTTP/1.1 302 Found\r\nServer: TornadoServer/6.6.1\r\nContent-Type: text/html; "
              b"charset=UTF-8\r\nLocation: /lab?\r\nContent-Length: 0\r\n\r\n")
# `mlflow server --host <address>` (mlflow 3.17.2): every page but /health and /version
# refused to a Host header it does not list
MLFLOW_GUARD = (b"HTTP/1.1 403 Forbidden\r\nserver: uvicorn\r\ncontent-type: text/plain\r\n"
                b"content-length: 60\r\n\r\nInvalid Host header - possible DNS rebinding attack "
                b"detected")


def section(raw: bytes) -> dict[str, Any]:
    return http_section(parse_response(raw), "h", 1 << 20)


def chosen(raw: bytes) -> list[str]:
    return [r.name for r in select(section(raw))]


@pytest.mark.parametrize(("raw", "extra"), [
    (NGINX, []),
    (JUPYTER, ["jupyter_status"]),
    (OLLAMA, ["ollama_version", "ollama_tags"]),
    (FASTAPI_404, ["models", "openapi", "chroma_version"]),
    (TGI_405, ["models", "tgi_info"]),
    (INFLUX, ["influxdb_query", "kubelet_pods"]),  # Go's own 404, as the kubelet's
    (GRAFANA, ["grafana_health"]),
    (TENSORBOARD, ["tensorboard_env"]),
    (TOMCAT, ["tomcat_docs"]),
    (JUPYTERLAB, ["jupyter_status"]),
    (MLFLOW_GUARD, ["mlflow_version"]),
])
def test_selection_from_first_response(raw: bytes, extra: list[str]) -> None:
    assert chosen(raw) == ALWAYS + extra


@pytest.mark.parametrize(("raw", "extra"), [
    (ps.CONSUL_ROOT, ["consul_self"]),
    (ps.CONSUL_NO_UI, ["consul_self"]),
    (ps.VAULT_ROOT, ["vault_health"]),
    (ps.VAULT_NO_UI, ["vault_health", "kubelet_pods"]),
    (ps.KUBELET_ROOT, ["kubelet_pods"]),
    (ps.KUBELET_401, []),  # nothing to learn past a refusal
    (ps.NEO4J_ROOT, ["neo4j_tx"]),
    (ps.CLICKHOUSE_ROOT, ["clickhouse_version"]),
    (ps.SOLR_ROOT, ["solr_system"]),
    (ps.YARN_ROOT, ["yarn_cluster_info"]),
    (ps.SPARK_ROOT, ["spark_master"]),
    (ps.AIRFLOW_ROOT, ["airflow_health", "airflow_version", "airflow_dags"]),
    (ps.AIRFLOW3_ROOT, ["airflow3_version", "airflow3_dags"]),
    (ps.SPARK_REST_ROOT, []),  # names itself on /: nothing to ask
    (ps.GRAFANA_APP, ["grafana_health", "grafana_search"]),
    (ps.KIBANA_ROOT, ["kibana_status"]),
    (ps.TRITON_ROOT, ["triton_server"]),
    (ps.TS_ROOT, ["torchserve_api", "torchserve_ping", "torchserve_models"]),
])
def test_platform_selection(raw: bytes, extra: list[str]) -> None:
    """Infrastructure platforms (tests/assess/platform_samples.py: where each comes from)
    get their own API paths and no other platform's."""
    assert chosen(raw) == ALWAYS + extra


def test_plain_web_server_gets_nothing_conditional() -> None:
    for title in ("Welcome to nginx!", "Index of /", "Apache2 Debian Default Page"):
        raw = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: %d\r\n\r\n<title>%s"
               % (len(title) + 7, title.encode()))
        assert chosen(raw) == ALWAYS


def test_selection_is_capped() -> None:
    # a page carrying every mark at once still gets at most MAX_FOLLOW_UPS extra requests
    body = (b'Ollama is running window.gradio_config weaviate.io <meta name="tb-relative-'
            b'root"')
    raw = (b"HTTP/1.1 200 OK\r\nX-Influxdb-Version: 1.8.10\r\nContent-Length: %d\r\n\r\n%s"
           % (len(body), body))
    assert len(chosen(raw)) == len(ALWAYS) + MAX_FOLLOW_UPS


def test_table_rows_are_well_formed() -> None:
    names = [r.name for r in FOLLOW_UPS]
    assert len(names) == len(set(names))
    for r in FOLLOW_UPS:
        assert r.path.startswith("/") and " " not in r.path
        for cond in r.when:
            assert cond and all(k in ("status", "server", "title", "body", "redirect")
                                or k.startswith("header:") for k in cond)


def test_accept_shapes() -> None:
    json_row = FollowUp("x", "/x")
    assert accepted(json_row, 200, b'{"version": "1"}') == '{"version": "1"}'
    assert accepted(json_row, 200, b'"1.0.0"') == '"1.0.0"'
    assert accepted(json_row, 200, b"<html>soft 404</html>") is None
    assert accepted(json_row, 404, b'{"detail":"Not Found"}') is None
    assert accepted(json_row, 200, b"") is None
    mlflow = next(r for r in FOLLOW_UPS if r.name == "mlflow_version")
    assert accepted(mlflow, 200, b"2.9.2") == "2.9.2"
    assert accepted(mlflow, 200, b"<!doctype html><title>MLflow</title>") is None
    big = accepted(json_row, 200, b"[" + b"1," * 10000 + b"1]")
    assert big is not None and len(big) == 4096


def _paths(srv: TinyHttp) -> list[bytes]:
    """The targets of the grabber's own requests (detection's probes come before); the
    error page's random path shown as ``/netatlas-*``."""
    return [re.sub(rb"^/netatlas-[0-9a-f]{12}$", b"/netatlas-*", q.split(b" ")[1])
            for q in grab_requests(srv)]


async def test_plain_nginx_like_endpoint_request_count(fast: GrabOptions) -> None:
    """The grabber's requests to a plain web server: GET /, the favicon, /.git/HEAD, /.env,
    the three always-asked API paths and one random path for the error page (detection's
    own probes, nmap's GetRequest among them, come before and are not counted here)."""
    page = b"<html><title>netatlas lab</title></html>"
    srv = TinyHttp({"/": (200, b"text/html", page)})
    async with serve(srv, "127.20.250.30") as port:
        res = await grab_endpoint(Endpoint("127.20.250.30", port), fast)
    assert res.status == "success", res.error
    assert _paths(srv) == [b"/", b"/favicon.ico", b"/.git/HEAD", b"/.env", b"/version",
                           b"/api", b"/api/v1/status/buildinfo", b"/netatlas-*"]


async def test_ollama_follow_ups_recorded(fast: GrabOptions) -> None:
    srv = TinyHttp({
        "/": (200, b"text/plain", b"Ollama is running"),
        "/api/version": (200, b"application/json", b'{"version":"0.5.7"}'),
        "/api/tags": (200, b"application/json",
                      b'{"models":[{"name":"llama3:latest","size":1}]}'),
    })
    async with serve(srv, "127.20.250.31") as port:
        res = await grab_endpoint(Endpoint("127.20.250.31", port), fast)
    api = res.sections["http"]["api"]
    assert api == {"ollama_version": '{"version":"0.5.7"}',
                   "ollama_tags": '{"models":[{"name":"llama3:latest","size":1}]}'}
    # /api/version is asked once even though two rows may share a path
    assert _paths(srv).count(b"/api/version") == 1


async def test_shared_path_asked_once_and_accepted_per_row(fast: GrabOptions) -> None:
    """MLflow's /version is text: the always row drops it, the MLflow row keeps it."""
    srv = TinyHttp({
        "/": (200, b"text/html", b"<!doctype html><title>MLflow</title>"),
        "/version": (200, b"text/plain", b"2.9.2"),
    })
    async with serve(srv, "127.20.250.32") as port:
        res = await grab_endpoint(Endpoint("127.20.250.32", port), fast)
    assert res.sections["http"]["api"] == {"mlflow_version": "2.9.2"}
    assert _paths(srv).count(b"/version") == 1


async def test_redirect_is_not_followed_by_follow_ups(fast: GrabOptions) -> None:
    srv = TinyHttp({"/": (302, b"text/html", b"moved"),
                    "/api/health": (200, b"application/json", b'{"database":"ok"}')})
    async with serve(srv, "127.20.250.33") as port:
        res = await grab_endpoint(Endpoint("127.20.250.33", port), fast)
    # TinyHttp sends no Location: not Grafana's /login, so no /api/health
    assert b"/api/health" not in _paths(srv)
    assert "api" not in res.sections["http"]


# -- the real lab: each application named with the version its package installed ------


async def _grab(svc: Any) -> tuple[dict[str, Any], Any]:
    ep = Endpoint(svc.ip, svc.port)
    res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success", res.error
    return res.sections["http"], Identifier(nmap=None, fingerprints=None).identify(res, ep)


# lab service -> (the http.api documents its first response must earn, a text in one)
LAB_APPS = {
    "jupyter-open": ({"api", "jupyter_status"}, ("jupyter_status", '"kernels"')),
    "jupyterlab-open": ({"api", "jupyter_status"}, ("jupyter_status", '"kernels"')),
    "jupyter": ({"api"}, ("api", '"version"')),  # token: /api/status is 403, not kept
    "influxdb": ({"influxdb_query"}, ("influxdb_query", '"results"')),
    "influxdb-auth": (set(), None),  # SHOW DATABASES refused: nothing kept
    "tomcat": ({"tomcat_docs"}, ("tomcat_docs", "Apache Tomcat/")),
    "tomcat-custom": (set(), None),  # a custom index: named by http.error_page alone
    "tensorboard": ({"tensorboard_env"}, ("tensorboard_env", '"data_location"')),
    "streamlit": ({"streamlit_health"}, ("streamlit_health", "ok")),
    "web-exposed": (set(), None),
}


@pytest.mark.lab
@pytest.mark.parametrize("name", sorted(LAB_APPS))
async def test_lab_applications(request: pytest.FixtureRequest, name: str) -> None:
    svc = lab_named(request, name)
    http, ident = await _grab(svc)
    docs, probe = LAB_APPS[name]
    assert set(http.get("api") or {}) == docs
    if probe:
        assert probe[1] in http["api"][probe[0]]
    assert (ident.service, ident.product) == (svc.service, svc.product)
    if svc.version_visible:
        assert ident.version == svc.version  # read from the installed binary / package
    else:
        assert ident.version is None


@pytest.mark.lab
async def test_lab_web_exposed_files(request: pytest.FixtureRequest) -> None:
    svc = lab_named(request, "web-exposed")
    http, _ = await _grab(svc)
    assert http["title"] == "Index of /"
    assert http["exposed"]["/.git/HEAD"]["sample"] == "ref: refs/heads/main\n"
    assert "DB_PASSWORD=***" in http["exposed"]["/.env"]["sample"]


async def test_a_follow_up_that_hangs_is_time_bounded(fast: GrabOptions) -> None:
    """Every follow-up is one bounded request: a path that never answers costs its read
    timeout, and the grab still keeps the rest."""
    srv = TinyHttp({
        "/": (200, b"text/plain", b"Ollama is running"),
        "/api/tags": (200, b"application/json", b'{"models":[]}'),
    })

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        if head.startswith(b"GET /api/version "):
            await asyncio.sleep(30)  # a tarpit on one path
        r2 = asyncio.StreamReader()
        r2.feed_data(head)
        r2.feed_eof()
        await srv(r2, w)

    async with serve(handler, "127.20.250.34") as port:
        res = await grab_endpoint(Endpoint("127.20.250.34", port), fast)
    # success: the tarpit path cost its read deadline, not the whole grab (a grab cut
    # by total_timeout is an io-timeout)
    assert res.status == "success", res.error
    assert res.sections["http"]["api"] == {"ollama_tags": '{"models":[]}'}


async def test_targeted_follow_ups_come_first(fast: GrabOptions) -> None:
    """What names the application is asked right after GET /, before the favicon and the
    exposure checks, so a slow endpoint loses the generic paths first."""
    srv = TinyHttp({"/": (200, b"text/plain", b"Ollama is running")})
    async with serve(srv, "127.20.250.35") as port:
        await grab_endpoint(Endpoint("127.20.250.35", port), fast)
    assert _paths(srv) == [b"/", b"/api/version", b"/api/tags", b"/favicon.ico",
                           b"/.git/HEAD", b"/.env", b"/version", b"/api",
                           b"/api/v1/status/buildinfo", b"/netatlas-*"]


def test_error_page_kept_only_when_an_error() -> None:
    tomcat = (b'<!doctype html><html lang="en"><head><title>HTTP Status 404 \xe2\x80\x93 Not '
              b'Found</title></head><body><h1>HTTP Status 404</h1><h3>Apache Tomcat/10.1.60 '
              b'(Debian)</h3></body></html>')
    page = error_page(404, tomcat)
    assert page is not None and page["status"] == 404 and "Apache Tomcat/10.1.60" in page["body"]
    assert error_page(200, b"<html>a site that answers everything</html>") is None
    assert error_page(404, b"  ") is None
    assert error_page_path() != error_page_path()
    assert re.fullmatch(r"/netatlas-[0-9a-f]{12}", error_page_path())
