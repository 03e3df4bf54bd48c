"""AI / ML infrastructure reachable without authentication."""

from __future__ import annotations

import re

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


def _is_jupyter(obs: Observation) -> bool:
    title = page_title(obs)
    return ("jupyter" in product_name(obs) or "jupyter" in title.lower()
            or bool(_JUPYTER_TREE.match(title)))


def jupyter_no_token(obs: Observation) -> str | None:
    """Critical only with a notebook page served 200 (the tree or the API), which Jupyter
    does only without a token; a login page or a redirect is not enough."""
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


def _ai(title_re: str, product_words: tuple[str, ...], body_marks: tuple[str, ...] = ()
        ) -> Evidence:
    pattern = re.compile(title_re, re.I) if title_re else None

    def check(obs: Observation) -> str | None:
        prod = product_name(obs)
        if any(w in prod for w in product_words):
            return f"product {quote(obs.product)}"
        h = http_section(obs)
        if h.get("status") != 200:
            return None
        title = page_title(obs)
        if pattern and pattern.search(title):
            return f"title {quote(title)}, status 200"
        html = page_html(obs)
        for mark in body_marks:
            if mark in html:
                return f"body contains {quote(mark)}, status 200"
        return None

    return check


CHECKS: tuple[Check, ...] = (
    Check("jupyter-no-token", "critical", "Jupyter without token (code execution)",
          jupyter_no_token),
    Check("ai-ray-dashboard", "high", "Ray dashboard exposed (job submission)",
          _ai(r"^Ray Dashboard$", ("ray dashboard",))),
    Check("ai-comfyui", "high", "ComfyUI exposed", _ai(r"^ComfyUI$", ("comfyui",))),
    Check("ai-sd-webui", "high", "Stable Diffusion WebUI exposed",
          _ai(r"^Stable Diffusion$", ("stable diffusion",))),
    Check("ai-mlflow", "high", "MLflow tracking server exposed",
          _ai(r"^MLflow$", ("mlflow",))),
    Check("ai-ollama", "high", "Ollama model API exposed",
          _ai("", ("ollama",), ("Ollama is running",))),
    Check("ai-gradio", "medium", "Gradio app exposed",
          _ai(r"^Gradio$", ("gradio",), ("window.gradio_config",))),
    Check("ai-streamlit", "medium", "Streamlit app exposed",
          _ai(r"^Streamlit$", ("streamlit",))),
    Check("ai-tensorboard", "medium", "TensorBoard exposed",
          _ai(r"^TensorBoard$", ("tensorboard",))),
    Check("ai-qdrant", "high", "Qdrant vector database open",
          _ai("", ("qdrant",), ('"title":"qdrant - vector search engine"',))),
)
