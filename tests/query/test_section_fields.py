"""The facts people search the translated sections for — Redis's INFO (version, mode,
role, os, whether it asked for a password, Shodan's key names), MongoDB's listed
databases, Cassandra's keyspaces, the MQTT broker's version, FTP's anonymous login and
FEAT lines, SNMP's system group, SMB's shares, OS, SMB1 and null session — are fields,
on every store backend: matching, negation, wildcards and facets.

Sections come from the grabbers' own parsers (as tests/interop/test_shodan_sections.py
and test_shodan_smb.py build them from the bytes of tests/grab/) and from Shodan
banners as the importer converts them (the same tests' fixtures): a field whose path
drifts from either finds nothing here.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netatlas.cli.main import cli
from netatlas.grab.protocols import ftp, redis
from netatlas.interop import import_file
from netatlas.interop.reidentify import Reidentifier
from netatlas.interop.shodan import convert
from netatlas.model import Observation
from netatlas.query import FIELDS, parse
from netatlas.store import Store, open_store
from tests.grab.test_redis import BODY as REDIS_BODY
from tests.interop import test_shodan_sections as shodan
from tests.interop import test_shodan_smb as shodan_smb
from tests.query.test_protocol_fields import RECORDS as PROTOCOL_RECORDS
from tests.query.test_search import _terms
from tests.stores import BACKENDS, _new_store_url

# The fields this file covers (tests/query/test_protocol_fields.py leaves them to it).
SECTION_FIELDS = (
    "redis.version", "redis.mode", "redis.role", "redis.os", "redis.auth_required",
    "redis.key", "mongodb.database", "mongodb.auth_required", "cassandra.keyspace",
    "mqtt.broker_version", "ftp.anonymous", "ftp.feature", "snmp.sys_name",
    "snmp.sys_object_id", "snmp.sys_location", "snmp.sys_contact", "smb.smb1",
    "smb.null_session", "smb.share", "smb.os", "smb.anonymous")

_REPLICA = (REDIS_BODY.replace(b"7.0.15", b"6.2.6").replace(b"standalone", b"cluster")
            .replace(b"Linux 6.1 x86_64", b"Linux 5.4 aarch64")
            .replace(b"role:master", b"role:slave"))
_GRABBED = shodan.GRABBED
# label -> (port, transport, service, sections): what the grabbers write
GRABBED: dict[str, tuple[int, str, str, dict[str, Any]]] = {
    "redis": (6379, "tcp", "redis", {"redis": _GRABBED["redis"]}),
    "redis-replica": (6380, "tcp", "redis", {"redis": redis.parse_info_reply(
        b"$%d\r\n%s\r\n" % (len(_REPLICA), _REPLICA))}),
    "redis-noauth": (6381, "tcp", "redis", {"redis": _GRABBED["redis-noauth"]}),
    "redis-protected": (6382, "tcp", "redis", {"redis": _GRABBED["redis-protected"]}),
    "cassandra-cql": (9042, "tcp", "cassandra",
                      {"cassandra": PROTOCOL_RECORDS["cassandra-open"][3]["cassandra"]}),
    "mqtt": (1883, "tcp", "mqtt", {"mqtt": _GRABBED["mqtt-open"]}),
    "ftp-anon": (21, "tcp", "ftp", {"ftp": _GRABBED["ftp"]}),
    "ftp-shut": (2121, "tcp", "ftp", {"ftp": {
        "banner": "220 FileZilla Server 1.7.0", "code": 220, "features": ftp.parse_feat(
            b"211-Features:\r\n AUTH TLS\r\n UTF8\r\n MLST type*;size*;modify*;\r\n211 End\r\n"),
        "syst": "UNIX emulated by FileZilla", "user_code": 331,
        "anonymous": ftp.anonymous_verdict(b"331 Please, specify the password.\r\n",
                                           b"530 Login incorrect.\r\n")}}),
    "snmp": (161, "udp", "snmp", {"snmp": _GRABBED["snmp"]}),
    "smb2": (445, "tcp", "microsoft-ds", {"smb": shodan_smb.GRABBED["smb2"]}),
    "smb1": (139, "tcp", "netbios-ssn", {"smb": shodan_smb.GRABBED["smb1"]}),
}
GRABBED_IP = "127.20.3.2"
_MONGODB_AUTH = {**copy.deepcopy(shodan.MONGODB), "ip_str": "192.0.2.21"}
_MONGODB_AUTH["mongodb"]["authentication"] = True
del _MONGODB_AUTH["mongodb"]["listDatabases"]
# label -> a Shodan banner, as tests/interop's fixtures give it
IMPORTED: dict[str, dict[str, Any]] = {
    "shodan-cassandra": shodan.CASSANDRA, "shodan-mongodb": shodan.MONGODB,
    "shodan-mongodb-auth": _MONGODB_AUTH, "shodan-redis": shodan.REDIS,
    "shodan-mqtt": shodan.MQTT, "shodan-ftp": shodan.FTP, "shodan-snmp": shodan.SNMP,
    "shodan-smb": shodan_smb.BANNER}
ALL = frozenset(GRABBED) | frozenset(IMPORTED)

CASES: list[tuple[str, set[str]]] = [
    # redis: INFO's facts, grabbed and imported alike
    ("redis.version:7.0.15", {"redis"}),
    ("redis.version:>=6.2", {"redis", "redis-replica"}),  # 6.0.16 < 6.2 < 7.0.15
    ("redis.version:<6.2", {"shodan-redis"}),
    ("redis.version:6.*", {"redis-replica", "shodan-redis"}),
    ("redis.mode:standalone", {"redis", "shodan-redis"}),
    ("redis.mode:CLUSTER", {"redis-replica"}),
    ("redis.role:slave", {"redis-replica"}),
    ("redis.role:master", {"redis", "shodan-redis"}),
    ("-redis.role:master service:redis", {"redis-replica", "redis-noauth", "redis-protected"}),
    ("redis.os:linux*", {"redis", "redis-replica", "shodan-redis"}),
    ("redis.os:*aarch64", {"redis-replica"}),
    ("redis.auth_required:true", {"redis-noauth"}),
    ("redis.auth_required:false", {"redis", "redis-replica", "redis-protected",
                                   "shodan-redis"}),
    ("redis.key:backup", {"shodan-redis"}),
    ('redis.key:"session:*"', {"shodan-redis"}),
    ("redis.key:nope", set()),
    # mongodb and cassandra: what an imported banner's listing said
    ("mongodb.database:shop", {"shodan-mongodb"}),
    ("mongodb.database:ADM*", {"shodan-mongodb"}),
    ("mongodb.database:orders", set()),  # a collection, not a database
    ("-mongodb.database:shop service:mongodb", {"shodan-mongodb-auth"}),
    ("mongodb.auth_required:false", {"shodan-mongodb"}),
    ("mongodb.auth_required:true", {"shodan-mongodb-auth"}),
    ("cassandra.keyspace:customers", {"shodan-cassandra"}),
    ("cassandra.keyspace:system_*", {"shodan-cassandra"}),
    ("-cassandra.keyspace:customers service:cassandra", {"cassandra-cql"}),
    # mqtt
    ('mqtt.broker_version:"mosquitto version 1.6.9"', {"shodan-mqtt"}),
    ("mqtt.broker_version:mosquitto*", {"mqtt", "shodan-mqtt"}),
    ('-mqtt.broker_version:"*1.6.9" service:mqtt', {"mqtt"}),
    # ftp
    ("ftp.anonymous:true", {"ftp-anon", "shodan-ftp"}),
    ("ftp.anonymous:false", {"ftp-shut"}),
    ('ftp.feature:"rest stream"', {"ftp-anon", "shodan-ftp"}),
    ('ftp.feature:"AUTH TLS"', {"ftp-shut"}),
    ("ftp.feature:MLST*", {"ftp-shut"}),
    ("ftp.feature:utf8", {"ftp-shut", "shodan-ftp"}),
    ("-ftp.feature:utf8 service:ftp", {"ftp-anon"}),
    # snmp
    ("snmp.sys_name:lab-snmp", {"snmp"}),
    ("snmp.sys_name:edge-*", {"shodan-snmp"}),
    ("snmp.sys_object_id:1.3.6.1.4.1.8072.3.2.10", {"snmp", "shodan-snmp"}),
    ('snmp.sys_object_id:"1.3.6.1.4.1.9.*"', set()),
    ('snmp.sys_location:"rack 4"', {"shodan-snmp"}),
    ("snmp.sys_location:*lab", {"snmp"}),
    ("snmp.sys_contact:*@example.org", {"shodan-snmp"}),
    ("-snmp.sys_contact:*@example.org transport:udp", {"snmp"}),
    # smb
    ("smb.share:public", {"shodan-smb"}),
    ("smb.share:ipc$", {"shodan-smb"}),
    ("smb.share:pub*", {"shodan-smb"}),
    ("smb.share:budget.xlsx", set()),  # a file, not a share
    ('smb.os:"windows server 2016*"', {"shodan-smb"}),
    ("smb.anonymous:true", {"shodan-smb"}),
    ("smb.null_session:true", {"smb2"}),
    ("smb.smb1:true", {"smb1"}),
    ("smb.smb1:false", {"smb2"}),
    ("-smb.smb1:true smb.dialect:*", {"smb2"}),
    # with the rest of the language
    ("smb.anonymous:true OR smb.null_session:true", {"shodan-smb", "smb2"}),
    ("redis.auth_required:false -redis.key:backup redis.role:*", {"redis", "redis-replica"}),
]

FACETS: dict[str, dict[object, int]] = {
    "redis.version": {"7.0.15": 1, "6.2.6": 1, "6.0.16": 1},
    "redis.mode": {"standalone": 2, "cluster": 1},
    "redis.role": {"master": 2, "slave": 1},
    "redis.os": {"Linux 6.1 x86_64": 1, "Linux 5.4 aarch64": 1,
                 "Linux 5.15.0-88-generic x86_64": 1},
    "mongodb.database": {"admin": 1, "shop": 1},
    "cassandra.keyspace": {"system": 1, "system_auth": 1, "customers": 1},
    "mqtt.broker_version": {"mosquitto 2.0.11": 1, "mosquitto version 1.6.9": 1},
    "ftp.feature": {"EPRT": 2, "EPSV": 2, "MDTM": 2, "REST STREAM": 2, "UTF8": 2,
                    "PASV": 1, "SIZE": 1, "TVFS": 1, "AUTH TLS": 1,
                    "MLST type*;size*;modify*;": 1},
    "snmp.sys_object_id": {"1.3.6.1.4.1.8072.3.2.10": 2},
    "snmp.sys_location": {"netatlas lab": 1, "rack 4": 1},
    "snmp.sys_contact": {"lab@netatlas.test": 1, "noc@example.org": 1},
    "smb.share": {"IPC$": 1, "public": 1},
    "smb.os": {"Windows Server 2016 Standard 14393": 1},
}


def _observations() -> Iterator[Observation]:
    when = datetime(2026, 12, 6, tzinfo=UTC)
    for port, transport, service, sections in GRABBED.values():
        yield Observation(ip=GRABBED_IP, port=port, transport=transport,  # type: ignore[arg-type]
                          timestamp=when, scan_id="p", service=service,
                          sections=copy.deepcopy(sections))
    for banner in IMPORTED.values():
        yield convert(copy.deepcopy(banner))  # as the importer makes it


@pytest.fixture(scope="module", params=BACKENDS)
def section_store(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The records above on a store of each backend, its own."""
    url, drop = _new_store_url(request.param, request, tmp_path_factory.mktemp("sections"))
    store = open_store(url)
    for obs in _observations():
        store.add(obs)
    store.flush()
    yield store
    store.close()
    drop()


def _labels(records: list[dict[str, Any]]) -> set[str]:
    where = {(GRABBED_IP, port): label for label, (port, *_rest) in GRABBED.items()}
    where |= {(b["ip_str"], b["port"]): label for label, b in IMPORTED.items()}
    return {where[(r["ip_str"], r["port"])] for r in records}


def test_every_record_is_stored(section_store: Store) -> None:
    assert _labels(section_store.search("", limit=100)) == ALL


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[q for q, _ in CASES])
def test_query_returns_exactly(section_store: Store, query: str, expected: set[str]) -> None:
    assert _labels(section_store.search(query, limit=100)) == expected
    assert section_store.count(query) == len(expected)


@pytest.mark.parametrize("name", list(FACETS))
def test_facet_values(section_store: Store, name: str) -> None:
    # over everything (SQLite answers from its running totals) and over a query (rows)
    for query in ("", "port:>=1"):
        got = {f.value: f.count for f in section_store.facets(query, [name], size=50)[name]}
        assert got == FACETS[name], query


def test_every_field_is_searched_and_every_facet_counted() -> None:
    assert set(SECTION_FIELDS) <= set(FIELDS)
    searched = {f for q, _ in CASES for f in _terms(parse(q).root)}
    assert set(SECTION_FIELDS) - searched == set()
    assert {n for n in SECTION_FIELDS if FIELDS[n].facetable} == set(FACETS)
    # the ones test_protocol_fields.py's sections would claim are left to this file
    from tests.query.test_protocol_fields import _SECTION_FIELDS
    claimed = {n for n in SECTION_FIELDS if n.split(".")[0] in {"cassandra", "mqtt", "mongodb"}}
    assert claimed == _SECTION_FIELDS


def test_the_field_help_lists_them() -> None:
    out = CliRunner().invoke(cli, ["search", "--help-fields"])
    assert out.exit_code == 0
    for name in SECTION_FIELDS:
        line = next(ln for ln in out.output.splitlines() if ln.split()[:1] == [name])
        assert FIELDS[name].description[:40] in line, name


def test_imported_shodan_banners_are_found_by_the_fields(store: Store, tmp_path: Path
                                                         ) -> None:
    banners = list(IMPORTED.values())
    path = tmp_path / "s.json.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(b) + "\n" for b in banners).encode()))
    report = import_file(store, str(path), transform=Reidentifier(store))
    assert report.error is None and report.imported == len(banners)
    for query, label in (
            ("mongodb.database:shop", "shodan-mongodb"),
            ("mongodb.auth_required:true", "shodan-mongodb-auth"),
            ("cassandra.keyspace:customers", "shodan-cassandra"),
            ("redis.role:master redis.mode:standalone redis.version:<6.2", "shodan-redis"),
            ("redis.key:backup redis.auth_required:false", "shodan-redis"),
            ("mqtt.broker_version:*1.6.9", "shodan-mqtt"),
            ("ftp.anonymous:true ftp.feature:TVFS", "shodan-ftp"),
            ("snmp.sys_name:edge-gw snmp.sys_location:rack*", "shodan-snmp"),
            ("smb.share:public smb.os:windows* smb.anonymous:true", "shodan-smb")):
        assert _labels(store.search(query, limit=10)) == {label}, query
