"""AI / ML infrastructure reachable without authentication: notebooks, model APIs, ML
tooling and vector databases. The evidence quotes what answered (the product and version
identify named, an API document the grab kept) so a finding says which release it is."""

from __future__ import annotations

import json
import re
from typing import Any

from ...model import Observation
from ._base import (
    Check,
    Evidence,
    as_text,
    http_section,
    page_html,
    page_title,
    product_name,
    quote,
)

_JUPYTER_TREE = re.compile(r"^(Home Page - Select or create a notebook|JupyterLab)$")


def api_doc(obs: Observation, name: str) -> str:
    """``http.api.<name>``: a document a well-known path answered with 200 (grab keeps
    it only then, and only when it had the expected shape)."""
    api = http_section(obs).get("api")
    return as_text(api.get(name)) if isinstance(api, dict) else ""


def _json(text: str) -> Any:
    """The document parsed, or None (documents are capped, so a long one may be cut)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def named(obs: Observation) -> str:
    """``product version`` as identify named it, quoted, or '' when nothing was named."""
    if not obs.product:
        return ""
    return quote(f"{obs.product} {obs.version}" if obs.version else obs.product)


def _with_product(evidence: str, obs: Observation) -> str:
    n = named(obs)
    return f"{evidence} ({n})" if n else evidence


def _is_jupyter(obs: Observation) -> bool:
    title = page_title(obs)
    return ("jupyter" in product_name(obs) or "jupyter" in title.lower()
            or bool(_JUPYTER_TREE.match(title)))


def jupyter_no_token(obs: Observation) -> str | None:
    """Critical: Jupyter answers its REST API (``/api/status``, 403 to a client without
    the token) or serves the notebook tree with 200. The landing page alone proves
    nothing: Jupyter Server shows it with and without a token."""
    status = _json(api_doc(obs, "jupyter_status"))
    if isinstance(status, dict) and "started" in status and "kernels" in status:
        return _with_product(f"GET /api/status answered 200 without a token "
                             f"(kernels {status.get('kernels')!r})", obs)
    h = http_section(obs)
    if not _is_jupyter(obs) or h.get("status") != 200:
        return None
    location = as_text(h.get("location"))
    title = page_title(obs)
    if location.startswith(("/tree", "/api")):
        return f"Jupyter {location} status 200 without token (title {quote(title)})"
    if "login" in location.lower() or re.search(r"password|token", title, re.I):
        return None
    if _JUPYTER_TREE.match(title):
        return f"Jupyter file browser served with status 200 (title {quote(title)})"
    return None


def _models(doc: Any) -> list[str] | None:
    """Model names in an OpenAI ``/v1/models`` or Ollama ``/api/tags`` document."""
    if not isinstance(doc, dict):
        return None
    items = doc.get("data") if isinstance(doc.get("data"), list) else doc.get("models")
    if not isinstance(items, list):
        return None
    names = [as_text(m.get("id") or m.get("name")) for m in items if isinstance(m, dict)]
    return [n for n in names if n]


def _model_list(name: str, path: str) -> Evidence:
    def check(obs: Observation) -> str | None:
        text = api_doc(obs, name)
        if not text:
            return None
        models = _models(_json(text))
        if models is None:
            # a long list is cut by the cap: still the model API, just not parsed
            if not re.match(r'\s*\{"(object|data|models)"', text):
                return None
            return _with_product(f"GET {path} answered 200 without credentials", obs)
        shown = ", ".join(models[:3]) + (", …" if len(models) > 3 else "")
        return _with_product(f"GET {path} answered 200 without credentials: "
                             f"{len(models)} model(s) {quote(shown, 60)}", obs)

    return check


def model_api(obs: Observation) -> str | None:
    """OpenAI-compatible ``/v1/models``, or TGI's ``/info`` naming the model it serves."""
    models = _model_list("models", "/v1/models")(obs)
    if models:
        return models
    info = _json(api_doc(obs, "tgi_info"))
    if isinstance(info, dict) and isinstance(info.get("model_id"), str):
        return _with_product(f"GET /info answered 200 without credentials: model "
                             f"{quote(info['model_id'], 60)}", obs)
    return None


def ollama(obs: Observation) -> str | None:
    tags = _model_list("ollama_tags", "/api/tags")(obs)
    if tags:
        return tags
    version = _json(api_doc(obs, "ollama_version"))
    if isinstance(version, dict) and version.get("version"):
        return f"GET /api/version answered 200: Ollama {quote(version['version'])}"
    if "ollama" in product_name(obs):  # Ollama has no authentication at all
        return f"product {named(obs)}"
    return _ollama_page(obs)


def triton(obs: Observation) -> str | None:
    """Triton has no authentication of its own: ``/v2`` answering is the whole API,
    model repository control (load / unload) included when it lists that extension."""
    text = api_doc(obs, "triton_server")
    if not re.search(r'"name"\s*:\s*"triton"', text):
        return None
    m = re.search(r'"version"\s*:\s*"([^"]+)"', text)
    evidence = f"GET /v2 answered 200: Triton {quote(m.group(1) if m else None)}"
    if re.search(r'"model_repository"', text):
        evidence += ", extension 'model_repository' (models can be loaded and unloaded)"
    return evidence


def torchserve(obs: Observation) -> str | None:
    """TorchServe answered without its token (0.12 asks for one by default; older ones
    and ``disable_token_authorization`` do not): the management API registers a model
    from a URL, the inference API runs them."""
    models = api_doc(obs, "torchserve_models")
    if re.match(r'\s*\{\s*"models"\s*:\s*\[', models):
        names = re.findall(r'"modelName"\s*:\s*"([^"]+)"', models)
        shown = f" {quote(', '.join(names[:3]), 60)}" if names else ""
        return _with_product(f"management API GET /models answered 200 without a token: "
                             f"{len(names)} model(s){shown}", obs)
    ping = re.search(r'"status"\s*:\s*"([^"]+)"', api_doc(obs, "torchserve_ping"))
    if ping:
        return _with_product(f"inference API GET /ping answered 200 without a token: "
                             f"status {quote(ping.group(1))}", obs)
    return None


def _answered(obs: Observation, api_names: tuple[str, ...]) -> str | None:
    for name in api_names:
        if api_doc(obs, name):
            return name
    return None


def _ai(title_re: str, product_words: tuple[str, ...], body_marks: tuple[str, ...] = (),
        api_names: tuple[str, ...] = ()) -> Evidence:
    """The application answered without credentials: its page with 200, or one of its
    API documents (kept only when it answered 200)."""
    pattern = re.compile(title_re, re.I) if title_re else None

    def check(obs: Observation) -> str | None:
        h = http_section(obs)
        prod = product_name(obs)
        doc = _answered(obs, api_names)
        if any(re.search(rf"\b{re.escape(w)}\b", prod) for w in product_words):
            if doc:
                return f"{named(obs)}: http.api.{doc} answered 200"
            if h.get("status") == 200:
                return f"{named(obs)}, GET / status 200"
        if h.get("status") != 200:
            return None
        title = page_title(obs)
        if pattern and pattern.search(title):
            return _with_product(f"title {quote(title)}, status 200", obs)
        html = page_html(obs)
        for mark in body_marks:
            if mark in html:
                return _with_product(f"body contains {quote(mark)}, status 200", obs)
        return None

    return check


_ollama_page = _ai("", ("ollama",), ("Ollama is running",))

CHECKS: tuple[Check, ...] = (
    Check("jupyter-no-token", "critical", "Jupyter without token (code execution)",
          jupyter_no_token),
    Check("ai-ray-dashboard", "high", "Ray dashboard exposed (job submission)",
          _ai(r"^Ray Dashboard$", ("ray",), api_names=("ray_version",))),
    Check("ai-comfyui", "high", "ComfyUI exposed",
          _ai(r"^ComfyUI$", ("comfyui",), api_names=("comfyui_stats",))),
    Check("ai-sd-webui", "high", "Stable Diffusion WebUI exposed",
          _ai(r"^Stable Diffusion$", ("stable diffusion",))),
    Check("ai-mlflow", "high", "MLflow tracking server exposed",
          _ai(r"^MLflow$", ("mlflow",), api_names=("mlflow_version",))),
    Check("ai-ollama", "high", "Ollama model API exposed", ollama),
    Check("ai-model-api-open", "high", "OpenAI-compatible model API answers without a key",
          model_api),
    Check("ai-triton", "high", "Triton Inference Server API exposed", triton),
    Check("ai-torchserve", "high", "TorchServe API answers without a token", torchserve),
    Check("ai-gradio", "medium", "Gradio app exposed",
          _ai(r"^Gradio$", ("gradio",), ("window.gradio_config",), ("gradio_config",))),
    Check("ai-streamlit", "medium", "Streamlit app exposed",
          _ai(r"^Streamlit$", ("streamlit",), api_names=("streamlit_health",))),
    Check("ai-tensorboard", "medium", "TensorBoard exposed",
          _ai(r"^TensorBoard$", ("tensorboard",), api_names=("tensorboard_env",))),
    Check("ai-langserve", "medium", "LangServe chain endpoints exposed",
          _ai("", ("langserve",), api_names=("openapi",))),
    Check("ai-qdrant", "high", "Qdrant vector database open",
          _ai("", ("qdrant",), ('"title":"qdrant - vector search engine"',))),
    Check("ai-weaviate", "high", "Weaviate vector database open",
          _ai("", ("weaviate",), api_names=("weaviate_meta",))),
    Check("ai-chroma", "high", "Chroma vector database open",
          _ai("", ("chroma",), api_names=("chroma_version",))),
    Check("ai-milvus", "high", "Milvus vector database open",
          _ai(r"^Attu$", ("milvus", "attu"))),
)
