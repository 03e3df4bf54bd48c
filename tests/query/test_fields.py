"""The registry covers the documented fields, and the help lists every one of them."""

from __future__ import annotations

import netatlas.query as query
from netatlas.query import FACETS, FIELDS, help_text
from netatlas.query.fields import Each, lookup

BRIEF_FIELDS = [
    "ip", "net", "port", "transport", "service", "product", "version", "cpe", "tag",
    "hostname", "scan", "status", "title", "http.status", "http.title", "http.server",
    "http.html_hash", "http.favicon.hash", "ssl", "ssl.version", "ssl.cert.subject.cn",
    "ssl.cert.issuer.cn", "ssl.cert.fingerprint.sha256", "ssl.cert.expired", "ssl.alpn",
    "ssh.fingerprint", "ssh.type", "ssh.hassh", "os", "info", "before", "after", "has_ssl",
    "has_vuln", "vuln", "risk", "severity", "org", "country", "asn",
]


def test_documented_fields_exist() -> None:
    missing = [n for n in BRIEF_FIELDS if lookup(n) is None]
    assert missing == []


def test_registry_is_consistent() -> None:
    types = {"str", "int", "version", "ip", "net", "date", "bool", "list"}
    for name, f in FIELDS.items():
        assert f.name == name and f.type in types and f.description
        # list fields read list sources, and only they do
        assert (f.type == "list") == isinstance(f.source, Each)
    assert set(FACETS) <= set(FIELDS)


def test_help_lists_every_field_and_alias() -> None:
    text = help_text()
    for f in FIELDS.values():
        assert f"\n  {f.name} " in text
        for alias in f.aliases:
            assert f"{alias}:" in text
    for word in ("OR", "NOT", "net:", "version:<8.0", "*"):
        assert word in text


def test_public_api_is_pinned() -> None:
    assert sorted(query.__all__) == sorted([
        "FACETS", "FIELDS", "SEVERITIES", "And", "Field", "Glob", "Node", "Not", "Or", "Query",
        "QuerySyntaxError", "Term", "Text", "facet_field", "help_text", "ip_to_bin", "parse",
    ])
    for name in query.__all__:
        assert getattr(query, name) is not None
