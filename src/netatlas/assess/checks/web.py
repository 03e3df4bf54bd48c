"""Web exposure: files, listings, status pages and consoles seen with single GETs."""

from __future__ import annotations

import re

from ...model import Observation
from ._base import Check, Evidence, http_section, page_html, page_title, quote


def _exposed(path: str) -> Evidence:
    def check(obs: Observation) -> str | None:
        ex = http_section(obs).get("exposed")
        item = ex.get(path) if isinstance(ex, dict) else None
        if isinstance(item, dict) and item.get("status") == 200:
            sample = quote(item.get("sample"), 60)
            return f"GET {path} status 200, {item.get('length')} bytes: {sample}"
        return None

    return check


def dir_listing(obs: Observation) -> str | None:
    title = page_title(obs)
    if http_section(obs).get("status") == 200 and title.startswith("Index of /"):
        return f"title {quote(title)}"
    return None


def server_status(obs: Observation) -> str | None:
    h = http_section(obs)
    if h.get("status") != 200:
        return None
    title, html = page_title(obs), page_html(obs)
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
    title = page_title(obs)
    if not title:
        return None
    for pattern, name in _ADMIN:
        if pattern.search(title):
            return f"{name} console, title {quote(title)}"
    return None


# (server, a sentence only its out-of-the-box page carries): a default page says the
# server was installed and left as it came, and names the software.
DEFAULT_PAGES: tuple[tuple[str, str], ...] = (
    ("nginx", "If you see this page, the nginx web server is successfully installed"),
    ("Apache httpd", "Apache2 Debian Default Page"),
    ("Apache httpd", "Apache2 Ubuntu Default Page"),
    ("Apache httpd", "Test Page for the Apache HTTP Server"),
    ("Apache Tomcat", "If you're seeing this, you've successfully installed Tomcat"),
    ("Apache Tomcat", "This is the default Tomcat home page"),
    ("lighttpd", "The owner of this web site has not put up any web pages yet"),
    ("IIS", "<title>IIS Windows Server</title>"),
)


def default_page(obs: Observation) -> str | None:
    if http_section(obs).get("status") != 200:
        return None
    html = page_html(obs)
    if html.strip() == "<html><body><h1>It works!</h1></body></html>":
        return "Apache httpd default page 'It works!'"
    for server, mark in DEFAULT_PAGES:
        if mark in html:
            return f"{server} default page, body contains {quote(mark, 60)}"
    return None


CHECKS: tuple[Check, ...] = (
    Check("git-exposed", "high", "Git repository exposed over HTTP", _exposed("/.git/HEAD")),
    Check("env-exposed", "high", ".env secrets file exposed over HTTP", _exposed("/.env")),
    Check("http-dir-listing", "low", "HTTP directory listing", dir_listing),
    Check("server-status", "medium", "Server status page exposed", server_status),
    Check("admin-console", "medium", "Administration console reachable", admin_console),
    Check("default-page", "info", "Web server default page (installed, never set up)",
          default_page),
)
