"""The field registry: every ``field:`` the language knows, its type and its SQL.

``sql`` is an SQLite expression over alias ``o`` (the observations row). For
``list`` fields it is instead a SELECT yielding one row per element in a column
named ``value`` (correlated on ``o``), so the compiler can test ``EXISTS`` over it
and facets can count its elements. Paths are constants here, never user text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .ast import Op

FieldType = Literal["str", "int", "version", "ip", "net", "date", "bool", "list"]
ElementType = Literal["str", "severity"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    sql: str
    description: str
    facetable: bool = False
    aliases: tuple[str, ...] = ()
    element_type: ElementType = "str"  # list fields: how elements compare
    implied_op: Op | None = None  # before:/after: carry their comparison
    text_sql: str | None = None  # wildcards on a non-text column (ip) use this
    facet_expr: str | None = None  # what a facet counts when not ``sql`` (same shape)
    normalize: Callable[[str], str] | None = None  # applied to str values
    example: str = ""


def _json(path: str) -> str:
    return f"json_extract(o.record, '{path}')"


def _each(path: str, element: str = "value") -> str:
    return f"SELECT {element} AS value FROM json_each(o.record, '{path}')"


def _asn(value: str) -> str:
    # "15169", "as15169" and "AS15169" all name one AS.
    return "AS" + value.strip().upper().removeprefix("AS")


# ASNs may be stored as 15169 or "AS15169"; compare one normal form.
_ASN_SQL = "'AS' || ltrim(upper(CAST(json_extract(o.record, '$.asn') AS TEXT)), 'AS')"
_HAS_SSL = "(json_type(o.record, '$.ssl') IS 'object')"
_HAS_VULN = "EXISTS (SELECT 1 FROM json_each(o.record, '$.vulns'))"
# vulns is {"CVE-…": {...}} (Shodan); tolerate a plain list of ids too.
_MAX_CVSS = (
    "(SELECT CAST(max(CAST(json_extract(value, '$.cvss') AS REAL)) AS TEXT)"
    " FROM json_each(o.record, '$.vulns'))"
)
_VULN_IDS = _each("$.vulns", "CASE WHEN typeof(key) = 'text' THEN key ELSE value END")

_ALL: tuple[Field, ...] = (
    # -- where -----------------------------------------------------------------------
    Field("ip", "ip", "o.ip_bin", "IP address, exact (a CIDR or wildcards also work)",
          facetable=True, text_sql="o.ip", facet_expr="o.ip", example="ip:127.20.0.5"),
    Field("net", "net", "o.ip_bin", "IPv4/IPv6 network in CIDR notation",
          example="net:127.20.0.0/24"),
    Field("port", "int", "o.port", "port number; comparisons, lists and ranges",
          facetable=True, example="port:>1024 port:80,443 port:8000-8100"),
    Field("transport", "str", "o.transport", "tcp or udp", facetable=True),
    Field("hostname", "list", _each("$.hostnames"), "a host name of the address",
          facetable=True, aliases=("hostnames",), example="hostname:*.lab.internal"),
    Field("country", "str", _json("$.location.country_code"), "two-letter country code",
          facetable=True, aliases=("country_code",)),
    Field("city", "str", _json("$.location.city"), "city name", facetable=True),
    Field("org", "str", _json("$.org"), "organisation owning the address", facetable=True),
    Field("isp", "str", _json("$.isp"), "internet service provider", facetable=True),
    Field("asn", "str", _ASN_SQL, "autonomous system, AS15169 or 15169",
          facetable=True, normalize=_asn),
    # -- what ------------------------------------------------------------------------
    # facets group case-insensitively, as search matches, and so walk the store's
    # NOCASE indexes instead of sorting every row
    Field("service", "str", "o.service", "service name (http, ssh, redis, ...)",
          facetable=True, facet_expr="o.service COLLATE NOCASE"),
    Field("product", "str", "o.product", "product name", facetable=True,
          facet_expr="o.product COLLATE NOCASE", example='product:"Apache httpd"'),
    Field("version", "version", "o.version",
          "product version; <, >, [a TO b] compare as versions (9.2p1 > 9.2)",
          facetable=True, example="version:<8.0"),
    Field("cpe", "list", f"{_each('$.cpe')} UNION ALL {_each('$.cpe23')}",
          "CPE 2.2 or 2.3 name", facetable=True, facet_expr=_each("$.cpe"),
          example="cpe:*openssh*"),
    Field("tag", "list", _each("$.tags"), "tag set by identification", facetable=True,
          aliases=("tags",)),
    Field("os", "str", _json("$.os"), "operating system", facetable=True),
    Field("devicetype", "str", _json("$.devicetype"), "device type", facetable=True),
    Field("info", "str", _json("$.info"), "extra identification info"),
    Field("title", "str", "o.title", "HTML title of the page", example='title:"Welcome*"'),
    Field("status", "str", "o.status", "grab status (success, io-timeout, ...)",
          facetable=True),
    Field("scan", "str", "o.scan_id", "scan id", facetable=True, aliases=("scan_id",)),
    # -- when ------------------------------------------------------------------------
    Field("after", "date", "o.ts", "seen at or after a date (2026-01-01 or ISO time)",
          implied_op="ge", example="after:2026-01-01"),
    Field("before", "date", "o.ts", "seen before a date", implied_op="lt"),
    Field("timestamp", "date", "o.ts", "observation time; a bare date means that day",
          example="timestamp:[2026-01-01 TO 2026-01-31]"),
    # -- http ------------------------------------------------------------------------
    Field("http.status", "int", _json("$.http.status"), "HTTP status code",
          facetable=True),
    # the store keeps http.title in its own column: no JSON to parse per row
    Field("http.title", "str", "o.title", "HTTP page title", facetable=True),
    Field("http.server", "str", _json("$.http.server"), "HTTP Server header",
          facetable=True),
    Field("http.html_hash", "int", _json("$.http.html_hash"), "MurmurHash3 of the body",
          facetable=True),
    Field("http.favicon.hash", "int", _json("$.http.favicon.hash"),
          "Shodan-style favicon hash", facetable=True),
    Field("http.version", "str", _json("$.http.version"), "HTTP/2 when GET / went over h2",
          facetable=True),
    # -- tls -------------------------------------------------------------------------
    Field("ssl", "bool", _HAS_SSL, "the service speaks TLS", aliases=("has_ssl",)),
    Field("ssl.version", "str", _json("$.ssl.version"), "TLS version (TLSv1.3, ...)",
          facetable=True),
    Field("ssl.cipher", "str", _json("$.ssl.cipher.name"), "negotiated cipher",
          facetable=True),
    Field("ssl.alpn", "str", _json("$.ssl.alpn"), "negotiated ALPN protocol",
          facetable=True),
    Field("ssl.cert.subject.cn", "str", _json("$.ssl.cert.subject.CN"),
          "certificate subject common name", facetable=True),
    Field("ssl.cert.issuer.cn", "str", _json("$.ssl.cert.issuer.CN"),
          "certificate issuer common name", facetable=True),
    Field("ssl.cert.fingerprint.sha256", "str", _json("$.ssl.cert.fingerprint.sha256"),
          "certificate SHA-256 fingerprint (hex)"),
    Field("ssl.cert.expired", "bool", _json("$.ssl.cert.expired"),
          "the certificate had expired when seen"),
    Field("ssl.versions", "list", _each("$.ssl.versions"),
          "TLS versions offered and accepted (-TLSv1 = refused)", facetable=True,
          example="ssl.versions:TLSv1"),
    Field("ssl.verified", "bool", _json("$.ssl.verified"),
          "the chain verifies against the scanner's trust store"),
    Field("ssl.jarm", "str", _json("$.ssl.jarm"), "JARM TLS server fingerprint",
          facetable=True),
    # -- other protocols ---------------------------------------------------------------
    Field("snmp.sys_descr", "str", _json("$.snmp.sys_descr"), "SNMP sysDescr",
          facetable=True),
    Field("smb.dialect", "str", _json("$.smb.dialect"), "negotiated SMB dialect",
          facetable=True),
    Field("smb.signing_required", "bool", _json("$.smb.signing_required"),
          "the SMB server requires message signing"),
    # -- ssh -------------------------------------------------------------------------
    Field("ssh.type", "str", _json("$.ssh.type"), "host key type (ssh-ed25519, ...)",
          facetable=True),
    Field("ssh.fingerprint", "str", _json("$.ssh.fingerprint"),
          "host key MD5 fingerprint (aa:bb:...)"),
    Field("ssh.hassh", "str", _json("$.ssh.hassh"), "HASSH server fingerprint",
          facetable=True),
    # -- risk ------------------------------------------------------------------------
    Field("has_vuln", "bool", _HAS_VULN, "at least one CVE is attached"),
    Field("cvss", "version", _MAX_CVSS,
          "highest CVSS score of the attached CVEs (numeric comparison)",
          example="cvss:>=9"),
    Field("vuln", "list", _VULN_IDS, "CVE id", facetable=True, aliases=("vulns", "cve"),
          example="vuln:CVE-2021-44228"),
    Field("risk", "list", _each("$.risks", "json_extract(value, '$.id')"),
          "risk finding id", facetable=True, aliases=("risks",)),
    Field("severity", "list", _each("$.risks", "json_extract(value, '$.severity')"),
          "severity of a risk finding: info < low < medium < high < critical",
          facetable=True, element_type="severity", example="severity:>=high"),
)

FIELDS: dict[str, Field] = {f.name: f for f in _ALL}
_BY_NAME: dict[str, Field] = {**{a: f for f in _ALL for a in f.aliases}, **FIELDS}
FACETS: tuple[str, ...] = tuple(f.name for f in _ALL if f.facetable)


def lookup(name: str) -> Field | None:
    return _BY_NAME.get(name.lower())


def close_matches(name: str, names: list[str] | None = None) -> list[str]:
    """Field names a mistyped ``name`` probably meant (``http`` -> ``http.*``)."""
    pool = names if names is not None else sorted(_BY_NAME)
    name = name.lower()
    out = [n for n in pool if n.startswith(name + ".")]
    out += [n for n in difflib.get_close_matches(name, pool, n=4, cutoff=0.6) if n not in out]
    return out[:6]
