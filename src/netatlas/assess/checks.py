"""The table of risk checks. Each check reads only what the record holds (grab sections,
identification) and returns a short evidence string quoting it, or None. Nothing here
guesses from a port number, and nothing talks to the network."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..model import Observation

Severity = Literal["info", "low", "medium", "high", "critical"]
Evidence = Callable[[Observation], "str | None"]

EVIDENCE_MAX = 200


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    severity: Severity
    title: str
    evidence: Evidence


def quote(value: Any, limit: int = 80) -> str:
    """A record value as a short, single-line quotation."""
    text = " ".join(str(value).split())
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def sec(obs: Observation, name: str) -> dict[str, Any]:
    value = obs.sections.get(name)
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# -- data stores ----------------------------------------------------------------------

def redis_no_auth(obs: Observation) -> str | None:
    r = sec(obs, "redis")
    if r.get("auth_required") is False and r.get("info"):
        version = r["info"].get("redis_version")
        return "INFO answered without AUTH" + (f" (redis_version {quote(version)})"
                                               if version else "")
    return None


def memcached_open(obs: Observation) -> str | None:
    m = sec(obs, "memcached")
    if m.get("version") or "uptime" in m:
        return (f"stats answered without auth (version {quote(m.get('version'))}, "
                f"curr_items {m.get('curr_items')})")
    return None


def _http(obs: Observation) -> dict[str, Any]:
    return sec(obs, "http")


def _title(obs: Observation) -> str:
    return _str(_http(obs).get("title"))


def _html(obs: Observation) -> str:
    return _str(_http(obs).get("html"))


def _product(obs: Observation) -> str:
    return (obs.product or "").lower()


def _http_open_store(product_words: tuple[str, ...], body_marks: tuple[str, ...]) -> Evidence:
    """An HTTP data store / control API answering 200 to an unauthenticated GET /."""

    def check(obs: Observation) -> str | None:
        h = _http(obs)
        # a well-known API path (http.api, kept only when it answered 200) is evidence
        # even when GET / is a 404, as on etcd
        api = h.get("api") if isinstance(h.get("api"), dict) else {}
        for name, doc in api.items():
            for mark in body_marks:
                if isinstance(doc, str) and mark in doc:
                    return f"API document {quote(name)} answered 200 and contains {quote(mark)}"
        if h.get("status") != 200:
            return None
        prod = _product(obs)
        if any(w in prod for w in product_words):
            return f"product {quote(obs.product)}, GET / status 200"
        html = _html(obs)
        for mark in body_marks:
            if mark in html:
                return f"GET / status 200, body contains {quote(mark)}"
        return None

    return check


# -- ftp / cleartext ------------------------------------------------------------------

def mqtt_anonymous(obs: Observation) -> str | None:
    if sec(obs, "mqtt").get("anonymous") is True:
        return "CONNECT without credentials accepted (CONNACK 0)"
    return None


def ftp_anonymous(obs: Observation) -> str | None:
    if sec(obs, "ftp").get("anonymous") is True:
        return "USER anonymous / PASS accepted (230)"
    return None


def _tls_features(features: list[Any]) -> bool:
    return any(_str(f).upper().startswith(("AUTH TLS", "AUTH SSL")) for f in features)


_CLEARTEXT_GREETING = {
    "telnet": None,
    "pop3": re.compile(r"^\+OK"),
    "imap": re.compile(r"^\* (OK|PREAUTH)"),
}


def cleartext_login(obs: Observation) -> str | None:
    if "ssl" in obs.sections or obs.status != "success":
        return None
    ftp = sec(obs, "ftp")
    if ftp.get("code") == 220:
        if _tls_features(ftp.get("features") or []):
            return None
        return f"FTP login over cleartext, FEAT has no AUTH TLS (banner {quote(ftp.get('banner'))})"
    smtp = sec(obs, "smtp")
    if smtp.get("ehlo") and smtp.get("starttls") is False:
        auth = [a for a in smtp["ehlo"] if _str(a).upper().startswith("AUTH")]
        extra = f", advertises {quote(auth[0])}" if auth else ""
        return f"SMTP EHLO without STARTTLS{extra}"
    service = obs.service or ""
    if service in _CLEARTEXT_GREETING and obs.data:
        greeting = obs.data[:300].decode("utf-8", errors="replace")
        pattern = _CLEARTEXT_GREETING[service]
        if pattern is not None and not pattern.match(greeting):
            return None
        if re.search(r"\b(STARTTLS|STLS)\b", greeting, re.I):
            return None
        return f"{service} greeting over cleartext: {quote(greeting, 60)}"
    return None


# -- TLS ------------------------------------------------------------------------------

WEAK_TLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")


def _cert(obs: Observation) -> dict[str, Any]:
    c = sec(obs, "ssl").get("cert")
    return c if isinstance(c, dict) else {}


def tls_self_signed(obs: Observation) -> str | None:
    c = _cert(obs)
    if c.get("self_signed") is True:
        cn = (c.get("subject") or {}).get("CN")
        return f"certificate self-signed (subject CN {quote(cn)})"
    return None


def tls_expired(obs: Observation) -> str | None:
    c = _cert(obs)
    if c.get("expired") is True:
        return f"certificate expired {quote(c.get('expires'))}"
    return None


def tls_weak_version(obs: Observation) -> str | None:
    version = sec(obs, "ssl").get("version")
    if version in WEAK_TLS:
        return f"negotiated {version} as the best version"
    return None


def tls_short_key(obs: Observation) -> str | None:
    key = _cert(obs).get("pubkey") or {}
    bits = key.get("bits")
    if key.get("type") in ("rsa", "dsa") and isinstance(bits, int) and 0 < bits < 2048:
        return f"{key['type'].upper()} key of {bits} bits"
    return None


# -- web exposure ---------------------------------------------------------------------

def _exposed(path: str) -> Evidence:
    def check(obs: Observation) -> str | None:
        ex = _http(obs).get("exposed")
        item = ex.get(path) if isinstance(ex, dict) else None
        if isinstance(item, dict) and item.get("status") == 200:
            sample = quote(item.get("sample"), 60)
            return f"GET {path} status 200, {item.get('length')} bytes: {sample}"
        return None

    return check


def dir_listing(obs: Observation) -> str | None:
    title = _title(obs)
    if _http(obs).get("status") == 200 and title.startswith("Index of /"):
        return f"title {quote(title)}"
    return None


def server_status(obs: Observation) -> str | None:
    h = _http(obs)
    if h.get("status") != 200:
        return None
    title, html = _title(obs), _html(obs)
    if title == "Apache Status" or "Apache Server Status for" in html:
        return f"Apache server-status page (title {quote(title)})"
    if re.match(r"Active connections: \d+", html):
        return f"nginx stub_status: {quote(html, 50)}"
    return None


ADMIN_TITLES: tuple[tuple[str, str], ...] = (
    (r"phpMyAdmin", "phpMyAdmin"),
    (r"^Adminer\b|Login - Adminer", "Adminer"),
    (r"RabbitMQ Management", "RabbitMQ management"),
    (r"\[Jenkins\]|^Jenkins$", "Jenkins"),
    (r"^Grafana$", "Grafana"),
    (r"^Kibana$", "Kibana"),
    (r"^Webmin|Login to Webmin", "Webmin"),
    (r"^pgAdmin", "pgAdmin"),
    (r"Tomcat Web Application Manager|/manager/html", "Tomcat manager"),
    (r"Statistics Report for HAProxy", "HAProxy statistics"),
    (r"^Portainer$", "Portainer"),
    (r"^Consul by HashiCorp$", "Consul UI"),
    (r"^Traefik$", "Traefik dashboard"),
    (r"^Spark (Master|Worker) at", "Spark UI"),
    (r"^Hadoop|^All Applications$", "Hadoop / YARN UI"),
)
_ADMIN = [(re.compile(p), name) for p, name in ADMIN_TITLES]


def admin_console(obs: Observation) -> str | None:
    title = _title(obs)
    if not title:
        return None
    for pattern, name in _ADMIN:
        if pattern.search(title):
            return f"{name} console, title {quote(title)}"
    return None


# -- AI / ML --------------------------------------------------------------------------

_JUPYTER_TREE = re.compile(r"^(Home Page - Select or create a notebook|JupyterLab)$")


def _is_jupyter(obs: Observation) -> bool:
    title = _title(obs)
    return ("jupyter" in _product(obs) or "jupyter" in title.lower()
            or bool(_JUPYTER_TREE.match(title)))


def jupyter_no_token(obs: Observation) -> str | None:
    """Critical only with a notebook page served 200 (the tree or the API), which Jupyter
    does only without a token; a login page or a redirect is not enough."""
    h = _http(obs)
    if not _is_jupyter(obs) or h.get("status") != 200:
        return None
    location = _str(h.get("location"))
    title = _title(obs)
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
        prod = _product(obs)
        if any(w in prod for w in product_words):
            return f"product {quote(obs.product)}"
        h = _http(obs)
        if h.get("status") != 200:
            return None
        title = _title(obs)
        if pattern and pattern.search(title):
            return f"title {quote(title)}, status 200"
        html = _html(obs)
        for mark in body_marks:
            if mark in html:
                return f"body contains {quote(mark)}, status 200"
        return None

    return check


CHECKS: tuple[Check, ...] = (
    Check("redis-no-auth", "high", "Redis answers without authentication", redis_no_auth),
    Check("memcached-open", "medium", "Memcached open to the network", memcached_open),
    Check("elasticsearch-open", "high", "Elasticsearch open without authentication",
          _http_open_store(("elasticsearch",), ('"tagline" : "You Know, for Search"',
                                                  '"tagline":"You Know, for Search"'))),
    Check("couchdb-open", "high", "CouchDB open without authentication",
          _http_open_store(("couchdb",), ('"couchdb":"Welcome"',))),
    Check("etcd-open", "high", "etcd API open without authentication",
          _http_open_store(("etcd",), ('"etcdserver":',))),
    Check("docker-api-open", "high", "Docker Engine API open without authentication",
          _http_open_store(("docker",), ('"ApiVersion":',))),
    Check("kubernetes-api-open", "high", "Kubernetes API answers anonymous requests",
          _http_open_store(("kubernetes",), ('"/apis/apps"',))),
    Check("mongodb-open", "high", "MongoDB HTTP interface open",
          _http_open_store(("mongodb",), ())),
    Check("ftp-anonymous", "medium", "FTP allows anonymous login", ftp_anonymous),
    Check("mqtt-anonymous", "medium", "MQTT broker accepts anonymous clients", mqtt_anonymous),
    Check("cleartext-login", "low", "Login offered over cleartext", cleartext_login),
    Check("tls-self-signed", "low", "Self-signed TLS certificate", tls_self_signed),
    Check("tls-expired", "medium", "Expired TLS certificate", tls_expired),
    Check("tls-weak-version", "medium", "Weak TLS protocol version", tls_weak_version),
    Check("tls-short-key", "medium", "TLS certificate key shorter than 2048 bits",
          tls_short_key),
    Check("git-exposed", "high", "Git repository exposed over HTTP", _exposed("/.git/HEAD")),
    Check("env-exposed", "high", ".env secrets file exposed over HTTP", _exposed("/.env")),
    Check("http-dir-listing", "low", "HTTP directory listing", dir_listing),
    Check("server-status", "medium", "Server status page exposed", server_status),
    Check("admin-console", "medium", "Administration console reachable", admin_console),
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
