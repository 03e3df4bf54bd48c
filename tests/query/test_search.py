"""Queries return exactly the expected rows, counts and facets — on every store backend
(the conformance suite: the same cases against SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netatlas.query import facet_field, parse
from netatlas.query.ast import Glob
from netatlas.store import Store
from netatlas.store.sqlparts import like_pattern

from .conftest import ALL

Search = Callable[[str], set[str]]
IPV4_24 = ALL - {"L", "M"}

CASES: list[tuple[str, set[str]]] = [
    ("", set(ALL)),
    # numbers
    ("port:22", {"B", "C"}),
    ("port:>1024", {"E", "F", "G", "H", "L"}),
    ("port:>=8443", {"L"}),
    ("port:<=25", {"B", "C", "I", "K"}),
    ("port:<22", {"I"}),
    ("port:80,443", {"A", "D", "M"}),
    ("port:8000-8100", {"F", "G", "H"}),
    ("port:[8081 TO 8443]", {"G", "H", "L"}),
    ("port:[8443 TO *]", {"L"}),
    ("port:[* TO 22]", {"B", "C", "I"}),
    ("port:22,8000-8100", {"B", "C", "F", "G", "H"}),
    # strings: case-insensitive equality, wildcards
    ("transport:udp", {"J", "N"}),
    ("transport:UDP", {"J", "N"}),
    ("service:ssh", {"B", "C"}),
    ("product:nginx", {"A", "M"}),
    ('product:"Apache httpd"', {"D"}),
    ("product:ngin*", {"A", "M"}),
    ("product:*SSH", {"B", "C"}),
    ("product:?edis*", {"E"}),
    ("product:nginx,jetty", {"A", "F", "M"}),
    ("product:*", ALL - {"G", "H", "K"}),
    ("-product:nginx", ALL - {"A", "M"}),  # rows without a product are not nginx either
    ("NOT product:nginx", ALL - {"A", "M"}),
    ("title:Forbidden", {"D"}),
    ('title:"100%_done"', {"G"}),  # % and _ are literal, not LIKE wildcards
    ("title:100%_*", {"G"}),
    ("title:100??done", {"G", "H"}),
    (r"title:100\?\?done", set()),  # escaped wildcards are literal
    ('http.title:"welcome to nginx!"', {"A"}),
    ("http.server:nginx*", {"A"}),
    ("os:linux", {"B"}),
    ('devicetype:"general purpose"', {"B"}),
    ("city:berlin", {"A"}),
    ('info:"banner ok"', {"I"}),
    ("status:io-timeout", {"K"}),
    ("-status:success", {"K"}),
    ("scan:s2", {"J"}),
    ("source:nmap", {"C"}),  # imported records' producer
    ("source:NMAP", {"C"}),
    ("worker:w2@scanner", {"C"}),  # a distributed scan's perspective
    ("vantage:127.21.0.3 -worker:w1*", {"C"}),
    ("org:\"lab gmbh\"", {"A"}),
    ('isp:"Lab ISP"', {"A"}),
    ("country:de", {"A", "B"}),
    ("country:US", {"C", "D"}),
    ("asn:64500", {"A", "B"}),  # stored as "AS64500" and as 64500
    ("asn:as64501", {"C"}),
    # versions
    ("product:openssh version:<8.0", {"C"}),
    ("version:>=8.9", {"B", "F"}),
    ("version:>8.9p1", {"F"}),
    ("version:[2.7 TO 2.80]", {"J"}),
    ("product:caddy version:<2.7", {"L"}),  # 2.7.0rc1 is a pre-release of 2.7
    ("version:1.22.1", {"A"}),
    ("version:1.*", {"A", "M"}),
    # list fields
    ("cpe:cpe:/a:openbsd:openssh:7.4", {"C"}),
    ("cpe:*openssh*", {"B", "C"}),
    ('cpe:"cpe:2.3:a:nginx:nginx:1.22.1:\\*:\\*:\\*:\\*:\\*:\\*:\\*"', {"A"}),
    ("tag:web", {"A", "D"}),
    ("tag:WEB", {"A", "D"}),
    ("tags:web,database", {"A", "D", "E"}),
    ("-tag:web", ALL - {"A", "D"}),
    ("hostname:www.lab.internal", {"A", "D"}),
    ("hostname:lab.internal", {"D"}),
    ("hostname:*.internal", {"A", "D"}),
    # http / ssl / ssh
    ("http.status:200", {"A", "G", "H", "L", "M"}),
    ("http.status:>=400", {"D", "F"}),
    ("http.html_hash:12345", {"A"}),
    ("http.favicon.hash:-1234", {"A"}),
    ("ssl:true", {"D", "L"}),
    ("has_ssl:yes", {"D", "L"}),
    ("ssl:false", ALL - {"D", "L"}),
    ("-ssl:true", ALL - {"D", "L"}),
    ("ssl.version:tlsv1.3", {"L"}),
    ("ssl.alpn:h2", {"L"}),
    ("ssl.cipher:ECDHE*", {"D"}),
    ("ssl.cert.subject.cn:lab.internal", {"D"}),
    ('ssl.cert.issuer.cn:"Lab CA"', {"D"}),
    ("ssl.cert.fingerprint.sha256:" + "AB" * 32, {"D"}),
    ("ssl.cert.expired:true", {"D"}),
    ("ssl.versions:TLSv1", {"D"}),  # accepted; "-TLSv1" (refused) is another value
    ("ssl.versions:TLSv1.3", {"L"}),
    ("ssl.verified:true", {"L"}),
    ("ssl.verified:false", {"D"}),
    ("ssl.jarm:2ad2ad*", {"D"}),
    ("http.version:HTTP/2", {"L"}),
    ('snmp.sys_descr:"Linux lab*"', {"N"}),
    ("smb.dialect:3.1.1", {"O"}),
    ("smb.signing_required:false", {"O"}),
    ("rsync.module:backup", {"O"}),
    ("rpc.program:mountd", {"O"}),
    ("nfs.export:/srv/*", {"O"}),
    ('x11.vendor:"the x.org foundation"', {"G"}),
    ("x11.status:success", {"G"}),
    ("ssl.cert.expired:false", {"L"}),
    ("ssh.type:ssh-ed25519", {"B"}),
    ("ssh.fingerprint:aa:bb:cc", {"B"}),
    ("ssh.hassh:hassh-c", {"C"}),
    # addresses
    ("ip:127.20.0.1", {"A", "B"}),
    ("ip:::1", {"L"}),
    ("ip:127.20.0.1,127.20.0.2", {"A", "B", "C"}),
    ("ip:127.20.0.*", IPV4_24),
    ("ip:127.20.0.0/30", {"A", "B", "C", "D"}),
    ("ip:[127.20.0.2 TO 127.20.0.4]", {"C", "D", "E"}),
    ("net:127.20.0.0/24", IPV4_24),
    ("net:127.20.1.0/24", {"M"}),
    ("net:127.20.0.2/31", {"C", "D"}),
    ("net:::/127", {"L"}),
    ("net:127.0.0.0/8,::1/128", ALL),
    ("-net:127.20.0.0/24", {"L", "M"}),
    # dates: C is 2026-01-15T08:00Z, J is exactly 2026-02-01T00:00Z, the rest 2026-03-01
    ("after:2026-02-01", ALL - {"C"}),  # after: includes the day named
    ("before:2026-02-01", {"C"}),  # before: excludes it
    ("after:2026-01-31 before:2026-02-02", {"J"}),
    ("timestamp:2026-02-01", {"J"}),
    ("timestamp:15/01/2026", {"C"}),
    ("timestamp:[2026-01-01 TO 2026-01-15]", {"C"}),
    ("timestamp:<2026-01-15", set()),
    ("timestamp:<=2026-01-15", {"C"}),
    ("timestamp:>2026-02-01", ALL - {"C", "J"}),
    ("after:2026-01-15T08:00:00Z", ALL),
    ("after:2026-01-15T08:00:01Z", ALL - {"C"}),
    ("after:2026-01-15T09:00:00+01:00", ALL),
    # risk
    ("has_vuln:true", {"C", "D"}),
    ("has_vuln:false", ALL - {"C", "D"}),
    ("vuln:CVE-2021-41773", {"D"}),
    ("cvss:>=5", {"C"}),
    ("cvss:>=9", set()),
    ("cvss:[5 TO 6]", {"C"}),
    ("vuln:cve-2018-15473", {"C"}),
    ("vuln:CVE-2021-*", {"D"}),
    ("risk:redis-noauth", {"E"}),
    ("risk:*cert*", {"D"}),
    ("severity:critical", {"E"}),
    ("severity:>=high", {"D", "E"}),
    ("severity:<low", set()),
    ("severity:[low TO medium]", {"C", "D"}),
    ("severity:medium,critical", {"C", "E"}),
    # full text over banner, title, product (history rows never match)
    ("nginx", {"A", "M"}),
    ("NGINX", {"A", "M"}),
    ("welcome", {"A"}),
    ('"OpenSSH_8.9p1"', {"B"}),
    ('"to nginx"', {"A"}),
    ('"nginx to"', set()),
    ("ngi*", {"A", "M"}),
    ("lighttpd", set()),
    ("-nginx", ALL - {"A", "M"}),
    ("vsftpd OR redis", {"E", "I"}),
    ("redis_version", {"E"}),
    ("*", set()),
    # boolean structure and precedence: AND binds tighter than OR
    ("port:80 OR port:22 product:openssh", {"A", "M", "B", "C"}),
    ("(port:80 OR port:22) product:openssh", {"B", "C"}),
    ("nginx OR ssh port:22", {"A", "M", "B", "C"}),
    ("(nginx OR ssh) port:80", {"A", "M"}),
    ("port:22 AND version:<8", {"C"}),
    ("NOT port:22 service:ssh", set()),
    ("-(port:22 OR port:80)", ALL - {"A", "B", "C", "M"}),
    ("NOT NOT port:22", {"B", "C"}),
    ("service:http -(ssl:true OR http.status:200)", {"F"}),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q or "<empty>" for q, _ in CASES])
def test_query_returns_exactly(search: Search, query: str, expected: set[str]) -> None:
    assert search(query) == expected


def test_every_field_is_exercised() -> None:
    from netatlas.query import FIELDS
    from netatlas.query.fields import lookup

    from .test_protocol_fields import CASES as PROTOCOL_CASES
    from .test_section_fields import CASES as SECTION_CASES
    from .test_version_fields import CASES as VERSION_CASES

    used = set()
    for query, _ in CASES + PROTOCOL_CASES + VERSION_CASES + SECTION_CASES:
        for t in _terms(parse(query).root):
            used.add(t)
    aliases_used = {lookup(n).name for n in used if lookup(n)}  # type: ignore[union-attr]
    assert set(FIELDS) - aliases_used == set()


def _terms(node: object) -> list[str]:
    from netatlas.query.ast import And, Not, Or, Term

    if isinstance(node, Term):
        return [node.field]
    if isinstance(node, Not):
        return _terms(node.child)
    if isinstance(node, And | Or):
        return [f for c in node.children for f in _terms(c)]
    return []


# -- SQL injection: user text only ever travels as parameters ---------------------------
HOSTILE = [
    "'; DROP TABLE observations; --",
    "x' OR '1'='1",
    '" OR 1=1 --',
    "); DELETE FROM latest; --",
    "nginx) OR (1=1",
    "%_\\",
    "NEAR(a b) OR title:x*",
]


@pytest.mark.parametrize("evil", HOSTILE)
@pytest.mark.parametrize("field", ["product", "title", "tag", "http.title", "version", None])
def test_hostile_values_stay_parameters(query_store: Store, search: Search, evil: str,
                                        field: str | None) -> None:
    quoted = '"' + evil.replace("\\", "\\\\").replace('"', '\\"') + '"'
    query = f"{field}:{quoted}" if field else quoted
    search(query)
    assert query_store.count("") == len(ALL)
    assert len(query_store.host("127.20.0.1")) == 3  # history intact


def test_hostile_text_is_found_literally(search: Search) -> None:
    assert search('title:"\'; DROP TABLE observations; --"') == {"M"}
    assert search('"\'; DROP TABLE observations"') == {"M"}
    assert search("title:\"x' OR '1'='1\"") == set()


def test_fts_operators_in_user_text_are_literal(search: Search) -> None:
    # FTS5 syntax inside a phrase must not turn into NEAR / OR / column filters.
    assert search('"nginx OR redis"') == set()
    assert search('"title : nginx"') == set()


def test_blank_query_is_everything(search: Search) -> None:
    assert search("   ") == set(ALL)


def test_like_pattern_escaping() -> None:
    assert like_pattern(Glob("a*b?c")) == "a%b_c"
    assert like_pattern(Glob("100%_x")) == "100\\%\\_x"
    assert like_pattern(Glob("a\\*b\\?c\\\\d")) == "a*b?c\\\\d"


# -- facets ------------------------------------------------------------------------------
Facets = Callable[[str, str], dict[object, int]]


def test_facet_port(facets: Facets) -> None:
    assert facets("", "port") == {80: 2, 22: 2, 21: 1, 25: 1, 53: 1, 161: 1, 443: 1,
                                  445: 1, 6379: 1, 8080: 1, 8081: 1, 8082: 1, 8443: 1}


def test_facet_follows_the_query(facets: Facets) -> None:
    assert facets("port:443", "tag") == {"web": 1, "self-signed": 1}
    assert facets("service:ssh", "product") == {"OpenSSH": 2}
    assert facets("-service:ssh", "service") == {"http": 7, "redis": 1, "ftp": 1, "dns": 1,
                                                 "snmp": 1, "microsoft-ds": 1}


@pytest.mark.parametrize(("name", "expected"), [
    ("tag", {"web": 2, "self-signed": 1, "database": 1}),
    ("tags", {"web": 2, "self-signed": 1, "database": 1}),
    ("cpe", {"cpe:/a:nginx:nginx:1.22.1": 1, "cpe:/a:openbsd:openssh:8.9p1": 1,
             "cpe:/a:openbsd:openssh:7.4": 1}),
    ("vuln", {"CVE-2018-15473": 1, "CVE-2021-41773": 1, "CVE-2021-42013": 1}),
    ("risk", {"weak-ssh": 1, "expired-cert": 1, "tls-old": 1, "redis-noauth": 1}),
    ("severity", {"medium": 1, "low": 1, "high": 1, "critical": 1}),
    ("country", {"DE": 2, "US": 2}),
    ("org", {"Lab GmbH": 1, "Other Org": 1}),
    ("asn", {"AS64500": 2, "AS64501": 1}),
    ("transport", {"tcp": 13, "udp": 2}),
    ("os", {"Linux": 1}),
    ("http.status", {200: 5, 403: 1, 404: 1}),
    ("ssl.version", {"TLSv1.2": 1, "TLSv1.3": 1}),
    ("http.server", {"nginx/1.22.1": 1, "Apache/2.4.41 (Ubuntu)": 1}),
    ("http.title", {"Welcome to nginx!": 1, "Forbidden": 1, "Not here": 1, "100%_done": 1,
                    "100xxdone": 1, "Caddy works": 1, "'; DROP TABLE observations; --": 1}),
    ("ip", {"127.20.0.1": 2, **{f"127.20.0.{i}": 1 for i in range(2, 13)},
            "::1": 1, "127.20.1.5": 1}),
    ("version", {"1.22.1": 1, "8.9p1": 1, "7.4": 1, "2.4.41": 1, "7.0.11": 1,
                 "9.4.43.v20210629": 1, "3.0.3": 1, "2.80": 1, "2.7.0rc1": 1, "1.18.0": 1,
                 "5.9.3": 1}),
])
def test_facet_values(facets: Facets, name: str, expected: dict[object, int]) -> None:
    assert facets("", name) == expected


def test_brief_facets_all_exist() -> None:
    for name in ["port", "service", "product", "version", "transport", "tag", "cpe", "os",
                 "country", "org", "asn", "vuln", "risk", "severity", "http.status",
                 "http.title", "ssl.version", "http.server", "ip"]:
        assert facet_field(name).facetable


@pytest.mark.parametrize("name", ["prot", "nope", "net", "ssl", "title; DROP TABLE x"])
def test_unknown_facet(name: str) -> None:
    with pytest.raises(ValueError, match="unknown facet"):
        facet_field(name)


def test_unknown_facet_suggests() -> None:
    with pytest.raises(ValueError, match="port"):
        facet_field("prot")


def test_store_names_unknown_facets(query_store: Store) -> None:
    with pytest.raises(ValueError, match="did you mean port"):
        query_store.facets("", ["prot"])
