"""AI / ML, data-store and web-exposure checks on records shaped like real grabs: the
evidence names what answered (product, version, models) and the near misses stay
silent (a token-protected Jupyter, an InfluxDB behind auth, a soft-404 API)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from netatlas.assess import assess
from netatlas.model import Observation


def obs(product: str | None = None, version: str | None = None, status: int = 200,
        title: str | None = None, html: str = "", headers: dict[str, str] | None = None,
        **api: str) -> Observation:
    http: dict[str, Any] = {"status": status, "title": title, "html": html,
                            "location": "/", "headers": headers or {}}
    if api:
        http["api"] = api
    return Observation(ip="127.20.0.40", port=8890, transport="tcp",
                       timestamp=datetime(2026, 11, 29, tzinfo=UTC), scan_id="s",
                       service="http", product=product, version=version,
                       sections={"http": http})


def found(o: Observation) -> dict[str, str]:
    return {f.id: f.evidence for f in assess(o)}


# Jupyter Server 2.21.1 as the lab's tokenless one answers, and with a token (the
# landing page is the same; /api/status is 403 so grab keeps no document).
JUPYTER_STATUS = ('{"connections": 0, "kernels": 0, "last_activity": "2026-11-29T08:56:12Z",'
                  ' "started": "2026-11-29T08:56:09Z"}')


def test_jupyter_without_token_is_critical_with_version() -> None:
    o = obs("Jupyter Server", "2.21.1", title="Jupyter Server",
            api='{"version": "2.21.1"}', jupyter_status=JUPYTER_STATUS)
    [f] = assess(o)
    assert f.id == "jupyter-no-token" and f.severity == "critical"
    assert "/api/status" in f.evidence and "2.21.1" in f.evidence


def test_jupyter_with_token_is_silent() -> None:
    assert found(obs("Jupyter Server", "2.21.1", title="Jupyter Server",
                     api='{"version": "2.21.1"}')) == {}


def test_model_apis() -> None:
    vllm = found(obs("vLLM", status=404, models='{"object":"list","data":[{"id":"a"},'
                     '{"id":"b"},{"id":"c"},{"id":"d"}]}'))
    assert set(vllm) == {"ai-model-api-open"}
    assert "4 model(s)" in vllm["ai-model-api-open"] and "vLLM" in vllm["ai-model-api-open"]
    cut = found(obs(None, status=405, models='{"object":"list","data":[{"id":"x", "ow'))
    assert set(cut) == {"ai-model-api-open"}
    ollama = found(obs("Ollama", "0.5.7", html="Ollama is running",
                       ollama_tags='{"models":[{"name":"llama3:latest"}]}'))
    assert set(ollama) == {"ai-ollama"} and "llama3:latest" in ollama["ai-ollama"]
    assert "0.5.7" in ollama["ai-ollama"]


def test_tgi_info_is_a_model_api() -> None:
    got = found(obs("text-generation-inference", "2.0.1", status=405, tgi_info=(
        '{"model_id":"bigscience/bloom-560m","version":"2.0.1"}')))
    assert set(got) == {"ai-model-api-open"} and "bloom-560m" in got["ai-model-api-open"]
    assert found(obs(None, status=405, tgi_info='{"version":"2.0.1"}')) == {}


@pytest.mark.parametrize("doc", ['{"detail":"Not Found"}', '{"error":"unauthorized"}',
                                 '["a"]'])
def test_model_api_near_misses(doc: str) -> None:
    assert "ai-model-api-open" not in found(obs(None, status=404, models=doc))


@pytest.mark.parametrize(("product", "version", "api", "check"), [
    ("TensorBoard", "2.21.0", {"tensorboard_env": '{"version": "2.21.0"}'}, "ai-tensorboard"),
    ("Ray", "2.9.3", {"ray_version": '{"ray_version": "2.9.3"}'}, "ai-ray-dashboard"),
    ("MLflow", "2.9.2", {"mlflow_version": "2.9.2"}, "ai-mlflow"),
    ("ComfyUI", "0.3.10", {"comfyui_stats": '{"system": {}}'}, "ai-comfyui"),
    ("Weaviate", "1.24.1", {"weaviate_meta": '{"version": "1.24.1"}'}, "ai-weaviate"),
    ("Chroma", "1.0.0", {"chroma_version": '"1.0.0"'}, "ai-chroma"),
    ("Qdrant", "1.9.0", {}, "ai-qdrant"),
    ("Streamlit", None, {"streamlit_health": "ok"}, "ai-streamlit"),
])
def test_ml_tooling_evidence_carries_the_version(product: str, version: str | None,
                                                 api: dict[str, str], check: str) -> None:
    got = found(obs(product, version, **api))
    assert set(got) == {check}
    assert product in got[check] and (version is None or version in got[check])


def test_named_product_behind_auth_is_not_open() -> None:
    # identify may name MLflow from a login page; a 401 with no API document is no finding
    assert found(obs("MLflow", status=401, title="MLflow")) == {}
    assert found(obs("Gray Log Viewer", title="x")) == {}  # "ray" is a word, not a substring


INFLUX_HEADERS = {"x-influxdb-version": "1.6.7~rc0", "x-influxdb-build": "OSS"}


def test_influxdb_open_and_closed() -> None:
    doc = ('{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],'
           '"values":[["_internal"],["metrics"]]}]}]}')
    got = found(obs("InfluxDB", "1.6.7", 404, headers=INFLUX_HEADERS, influxdb_query=doc))
    assert set(got) == {"influxdb-open"}
    assert "1.6.7~rc0" in got["influxdb-open"] and "metrics" in got["influxdb-open"]
    empty = '{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"]}]}]}'
    assert "0 database(s)" in found(obs("InfluxDB", status=404, headers=INFLUX_HEADERS,
                                        influxdb_query=empty))["influxdb-open"]
    # auth on: SHOW DATABASES got a 401, grab kept nothing
    assert found(obs("InfluxDB", "1.6.7", 404, headers=INFLUX_HEADERS)) == {}
    v2 = found(obs("InfluxDB", "2.7.4", 200, influxdb_setup='{"allowed": true}'))
    assert set(v2) == {"influxdb-open"}
    assert found(obs("InfluxDB", "2.7.4", 200, influxdb_setup='{"allowed": false}')) == {}


@pytest.mark.parametrize(("html", "server"), [
    ("<p>If you see this page, the nginx web server is successfully installed</p>", "nginx"),
    ("<p>This is the default Tomcat home page. It can be found</p>", "Apache Tomcat"),
    ("<title>Apache2 Debian Default Page: It works</title>", "Apache httpd"),
    ("<html><body><h1>It works!</h1></body></html>\n", "Apache httpd"),
])
def test_default_pages(html: str, server: str) -> None:
    got = found(obs(None, html=html))
    assert set(got) == {"default-page"} and server in got["default-page"]
    assert assess(obs(None, html=html))[0].severity == "info"


def test_default_page_near_misses() -> None:
    assert found(obs("nginx", title="Welcome to nginx!")) == {}  # a title alone
    page = "<p>If you see this page, the nginx web server is successfully installed</p>"
    assert found(obs("nginx", status=404, html=page)) == {}


# The default pages Debian's packages install (present where the lab's packages are).
INSTALLED_DEFAULT_PAGES = [
    ("/var/www/html/index.nginx-debian.html", "nginx"),
    ("/usr/share/lighttpd/index.html", "lighttpd"),
    ("/usr/share/tomcat10-root/default_root/index.html", "Apache Tomcat"),
    ("/usr/share/apache2/default-site/index.html", "Apache httpd"),
]


@pytest.mark.parametrize(("path", "server"), INSTALLED_DEFAULT_PAGES)
def test_installed_default_pages(path: str, server: str) -> None:
    page = Path(path)
    if not page.is_file():
        pytest.skip(f"{path} not installed")
    html = page.read_text(errors="replace")[:16 * 1024]  # what grab keeps of a body
    got = found(obs(None, html=html))
    assert set(got) == {"default-page"} and server in got["default-page"]
