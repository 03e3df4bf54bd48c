"""Shodan's protocol objects that netatlas's grabbers also describe — cassandra,
mongodb, redis, mqtt, ftp, rsync — both ways (interop/shodan_sections.py and one
translator each): an imported Shodan banner is searchable with netatlas's fields and,
with --reidentify, rated as the grabber's section would be; a grabbed section goes out
in Shodan's shape, the official ``shodan parse`` reads it, and importing it gives the
same section back; hostile objects are cut to the limits and never stop an import."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from netatlas.assess import assess
from netatlas.grab.protocols import ftp, mongodb, mqtt, redis, rsync, snmp
from netatlas.interop import import_file
from netatlas.interop.reidentify import Reidentifier
from netatlas.interop.shodan import convert
from netatlas.interop.shodan_redis import SECTION_OF
from netatlas.interop.shodan_sections import TRANSLATORS, from_shodan
from netatlas.interop.shodan_writer import write
from netatlas.model import Observation
from netatlas.store import Store, open_store
from tests.grab.test_ftp import FEAT
from tests.grab.test_redis import REPLY as REDIS_INFO
from tests.grab.test_rsync import GREETING as RSYNC_GREETING
from tests.grab.test_rsync import LISTING as RSYNC_LISTING
from tests.grab.test_snmp import REPORT as SNMP_REPORT
from tests.grab.test_snmp import V2C as SNMP_V2C
from tests.interop.test_shodan_elastic import _export, _gz
from tests.query.test_protocol_fields import RECORDS


def _banner(ip: str, port: int, module: str, data: str, **rest: Any) -> dict[str, Any]:
    """The members every banner has (Datapedia's general properties); values made up,
    addresses from the documentation range 192.0.2.0/24."""
    return {"_shodan": {"id": f"id-{port}", "module": module, "crawler": "c" * 40,
                        "ptr": False, "options": {}},
            "ip_str": ip, "port": port, "transport": "tcp",
            "timestamp": "2026-11-30T08:14:55.118284", "hostnames": [], "domains": [],
            "org": "Example Org", "asn": "AS64500", "data": data, **rest}


# Shodan's `cassandra` object: name, keyspaces, partitioner, snitch, read over the Thrift
# client port 9160 (the Datapedia's property as github.com/shadowscatcher/shodan types it,
# models/services/cassandra.go; its availability note in models/service.go).
CASSANDRA = _banner(
    "192.0.2.10", 9160, "cassandra", "Cassandra\nName: Prod Cluster\n",
    product="Cassandra",
    cassandra={"name": "Prod Cluster", "keyspaces": ["system", "system_auth", "customers"],
               "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
               "snitch": "org.apache.cassandra.locator.SimpleSnitch"})
# Shodan's `mongodb` object (models/services/mongodb.go; LeakLooker reads
# listDatabases.totalSize and databases[].name / sizeOnDisk / empty / collections): the
# buildInfo, listDatabases and serverStatus replies as MongoDB's reference lays them out.
MONGODB = _banner(
    "192.0.2.11", 27017, "mongodb", "MongoDB Server Information\n...",
    product="MongoDB", version="4.0.3",
    mongodb={
        "authentication": False,
        "buildInfo": {"version": "4.0.3", "gitVersion": "7ea530946fa7880364d88c8d8b6026bbc9ffa48c",
                      "allocator": "tcmalloc", "javascriptEngine": "mozjs", "bits": 64,
                      "debug": False, "sysInfo": "deprecated", "modules": [],
                      "versionArray": [4, 0, 3, 0], "maxBsonObjectSize": 16777216,
                      "openssl": {"running": "OpenSSL 1.1.0g  2 Nov 2017",
                                  "compiled": "OpenSSL 1.1.0g  2 Nov 2017"},
                      "buildEnvironment": {"distmod": "ubuntu1804", "target_arch": "x86_64",
                                           "target_os": "linux"},
                      "storageEngines": ["devnull", "wiredTiger"], "ok": 1.0},
        "listDatabases": {"databases": [
            {"name": "admin", "sizeOnDisk": 32768.0, "empty": False,
             "collections": ["system.version"]},
            {"name": "shop", "sizeOnDisk": 229376000.0, "empty": False,
             "collections": ["customers", "orders"]}],
            "totalSize": 229408768.0, "ok": 1.0},
        "serverStatus": {"host": "db-1", "version": "4.0.3", "process": "mongod",
                         "uptime": 86400.0, "repl": {"setName": "rs0", "ismaster": True,
                                                      "hosts": ["db-1:27017", "db-2:27017"]}},
    })
# Shodan's `redis` object: INFO parsed into an object per INFO section (server, clients,
# memory, replication, cpu, stats, keyspace) and `keys` (models/services/redis.go); the
# banner's data is INFO's text.
REDIS = _banner(
    "192.0.2.12", 6379, "redis", "# Server\r\nredis_version:6.0.16\r\n",
    product="Redis key-value store", version="6.0.16",
    redis={
        "server": {"redis_version": "6.0.16", "redis_git_sha1": 0, "redis_git_dirty": 0,
                   "redis_build_id": "a3fdef44459b3ad6", "redis_mode": "standalone",
                   "os": "Linux 5.15.0-88-generic x86_64", "arch_bits": 64,
                   "multiplexing_api": "epoll", "process_id": 1, "run_id": "9" * 40,
                   "tcp_port": 6379, "uptime_in_seconds": 1209600, "uptime_in_days": 14,
                   "hz": 10, "lru_clock": 5316841, "executable": "/usr/bin/redis-server",
                   "config_file": "/etc/redis/redis.conf"},
        "clients": {"connected_clients": 3, "blocked_clients": 0},
        "memory": {"used_memory": 1258448, "used_memory_human": "1.20M",
                   "maxmemory_human": "0B"},
        "replication": {"role": "master", "connected_slaves": 0},
        "cpu": {"used_cpu_sys": 12.5, "used_cpu_user": 30.1,
                "used_cpu_sys_children": 0.0, "used_cpu_user_children": 0.0},
        "keyspace": {"db0": "keys=3,expires=0,avg_ttl=0"},
        "keys": {"data": ["session:1", "session:2", "backup"], "more": False},
    })
# Shodan's `mqtt` object: the CONNACK code and the messages read for 5 s, a payload only
# on system topics (models/services/mqtt.go).
MQTT = _banner(
    "192.0.2.13", 1883, "mqtt", "MQTT Connection Code: 0\n\nTopics:\n  $SYS/broker/version\n",
    product="Mosquitto",
    mqtt={"code": 0, "messages": [
        {"topic": "$SYS/broker/version", "payload": "mosquitto version 1.6.9"},
        {"topic": "home/livingroom/temperature", "payload": None}]})
# Shodan's `ftp` object: anonymous, features {name: {parameters}}, features_hash
# (models/services/ftp.go); the data starts with the greeting.
FTP = _banner(
    "192.0.2.14", 21, "ftp", "220 (vsFTPd 3.0.3)\r\n230 Login successful.\r\n",
    product="vsftpd", version="3.0.3",
    ftp={"anonymous": True, "features_hash": -1226918487, "features": {
        "EPRT": {"parameters": []}, "EPSV": {"parameters": []}, "MDTM": {"parameters": []},
        "PASV": {"parameters": []}, "REST": {"parameters": ["STREAM"]},
        "SIZE": {"parameters": []}, "TVFS": {"parameters": []}, "UTF8": {"parameters": []}}})
# Shodan's `rsync` object: authentication and modules {name: comment}
# (models/services/rsync.go; LeakLooker reads rsync.authentication and rsync.modules).
RSYNC = _banner(
    "192.0.2.15", 873, "rsync", "@RSYNCD: 31.0\npub\tpublic files\nbackup\t\n",
    product="rsyncd",
    rsync={"authentication": False, "modules": {"pub": "public files", "backup": ""}})
# Shodan's `snmp` object: the system group as strings (models/services/snmp.go).
SNMP = _banner(
    "192.0.2.16", 161, "snmp", "SNMP:\n  Versions:\n    1\n    2\n",
    transport="udp",
    snmp={"description": "Linux edge-gw 5.10.0 #1 SMP x86_64", "contact": "noc@example.org",
          "location": "rack 4", "name": "edge-gw", "uptime": "1739512",
          "objectid": "1.3.6.1.4.1.8072.3.2.10", "services": "72"})
BANNERS = [CASSANDRA, MONGODB, REDIS, MQTT, FTP, RSYNC, SNMP]

EXPECTED: dict[str, dict[str, Any]] = {  # what netatlas makes of each object
    "cassandra": {"cluster_name": "Prod Cluster",
                  "keyspaces": ["system", "system_auth", "customers"],
                  "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
                  "snitch": "org.apache.cassandra.locator.SimpleSnitch",
                  "thrift": True, "auth_required": False},
    "mongodb": {"buildinfo_answered": True, "version": "4.0.3",
                "git_version": "7ea530946fa7880364d88c8d8b6026bbc9ffa48c",
                "allocator": "tcmalloc", "javascript_engine": "mozjs", "bits": 64,
                "debug": False, "sys_info": "deprecated", "modules": [],
                "openssl": "OpenSSL 1.1.0g  2 Nov 2017", "distmod": "ubuntu1804",
                "target_arch": "x86_64", "target_os": "linux", "replica_set": "rs0",
                "hosts": ["db-1:27017", "db-2:27017"], "auth_required": False,
                "databases": [{"name": "admin", "size": 32768, "empty": False,
                               "collections": ["system.version"]},
                              {"name": "shop", "size": 229376000, "empty": False,
                               "collections": ["customers", "orders"]}],
                "database_count": 2, "total_size": 229408768},
    "redis": {"auth_required": False, "info": {
        "redis_version": "6.0.16", "redis_mode": "standalone",
        "os": "Linux 5.15.0-88-generic x86_64", "arch_bits": "64", "tcp_port": "6379",
        "uptime_in_seconds": "1209600", "connected_clients": "3",
        "used_memory_human": "1.20M", "role": "master", "redis_git_sha1": "0",
        "redis_build_id": "a3fdef44459b3ad6", "executable": "/usr/bin/redis-server",
        "config_file": "/etc/redis/redis.conf", "maxmemory_human": "0B"},
        "keyspace": {"db0": "keys=3,expires=0,avg_ttl=0"},
        "keys": {"data": ["session:1", "session:2", "backup"], "more": False}},
    "mqtt": {"return_code": 0, "return_text": "accepted", "anonymous": True,
             "broker_version": "mosquitto version 1.6.9"},
    "ftp": {"anonymous": True, "code": 220, "features": [
        "EPRT", "EPSV", "MDTM", "PASV", "REST STREAM", "SIZE", "TVFS", "UTF8"]},
    "rsync": {"auth_required": False, "modules": [
        {"name": "pub", "comment": "public files"}, {"name": "backup", "comment": ""}]},
    "snmp": {"sys_descr": "Linux edge-gw 5.10.0 #1 SMP x86_64",
             "sys_contact": "noc@example.org", "sys_location": "rack 4",
             "sys_name": "edge-gw", "sys_uptime": "1739512",
             "sys_object_id": "1.3.6.1.4.1.8072.3.2.10"},
}


def _name(banner: dict[str, Any]) -> str:
    return next(k for k in TRANSLATORS if k in banner)


@pytest.mark.parametrize("banner", BANNERS, ids=_name)
def test_a_shodan_object_becomes_the_section(banner: dict[str, Any]) -> None:
    name = _name(banner)
    assert convert(copy.deepcopy(banner)).sections[name] == EXPECTED[name]


def test_import_reidentify_search(store: Store, tmp_path: Path) -> None:
    report = import_file(store, str(_gz(tmp_path / "s.json.gz", BANNERS)),
                         transform=Reidentifier(store))
    assert report.error is None and report.imported == len(BANNERS)
    for query, port in (
            ('cassandra.cluster_name:"prod cluster"', 9160),
            ("cassandra.auth_required:false", 9160), ("risk:cassandra-no-auth", 9160),
            ("mongodb.version:4.0.3", 27017), ("mongodb.version:<4.1", 27017),
            ("mongodb.replica_set:rs0", 27017), ("risk:mongodb-exposed", 27017),
            ("risk:redis-no-auth", 6379), ("mqtt.anonymous:true", 1883),
            ("risk:mqtt-anonymous", 1883), ("risk:ftp-anonymous", 21),
            ("risk:cleartext-login", 21), ("rsync.module:pub", 873),
            ("risk:rsync-anonymous-modules", 873), ("snmp.sys_descr:*edge-gw*", 161)):
        found = store.search(query, limit=10)
        assert [r["port"] for r in found] == [port], query
    assert store.count("mongodb.version:>=4.1") == 0
    assert store.count("risk:snmp-public") == 0  # which community Shodan used is not said
    (c,) = store.search("risk:cassandra-no-auth")
    said = next(r for r in c["risks"] if r["id"] == "cassandra-no-auth")["evidence"]
    assert "Thrift" in said and "customers" in said and "STARTUP" not in said
    (m,) = store.search("risk:mongodb-exposed")
    said = next(r for r in m["risks"] if r["id"] == "mongodb-exposed")["evidence"]
    assert "2 database(s)" in said and "shop" in said


def test_the_section_not_the_data_rates_redis() -> None:
    """redis-no-auth from the translated object alone, with no INFO text in `data` to
    rebuild from (test_shodan_reidentify: the two together)."""
    obs = convert({**copy.deepcopy(REDIS), "data": ""})
    assert "redis-no-auth" in {f.id for f in assess(obs)}


# -- netatlas's sections, as the grabbers write them --------------------------------------
def _grabbed() -> dict[str, dict[str, Any]]:
    ftp_section = {"banner": "220 (vsFTPd 3.0.3)", "code": 220,
                   "features": ftp.parse_feat(FEAT), "syst": None, "anonymous": True,
                   "user_code": 331}
    rsync_section = {**rsync.parse_greeting(RSYNC_GREETING), **rsync.parse_listing(RSYNC_LISTING)}
    rsync_section["modules"][0].update(rsync.parse_module_reply(b"@RSYNCD: OK\n"))
    return {
        "cassandra-open": RECORDS["cassandra-open"][3]["cassandra"],
        "cassandra-auth": RECORDS["cassandra-auth"][3]["cassandra"],
        "cassandra-refused": {"error": {"code": 10, "message": "Invalid or unsupported "
                                        "protocol version (4)"}},
        "mongodb": RECORDS["mongodb"][3]["mongodb"],
        "mongodb-refused": {"wire_protocol": "OP_MSG", **mongodb.hello_facts(
            {"isWritablePrimary": True, "maxWireVersion": 17}), **mongodb.build_facts(
            {"ok": 0.0, "errmsg": "command buildInfo requires authentication"})},
        "redis": redis.parse_info_reply(REDIS_INFO),
        "redis-noauth": redis.parse_info_reply(b"-NOAUTH Authentication required.\r\n"),
        "redis-protected": redis.parse_info_reply(b"-DENIED Redis is running in protected "
                                                  b"mode\r\n"),
        "mqtt-open": RECORDS["mqtt-open"][3]["mqtt"],
        "mqtt-shut": mqtt.parse_connack(b"\x20\x02\x00\x05"),
        "ftp": ftp_section,
        "rsync": rsync_section,
        "snmp": {**snmp.parse_report(SNMP_REPORT, 0x986754), **snmp.section_from(
            snmp.parse_response(SNMP_V2C, 0xE20296)["values"]), "community": "public",
            "versions": ["v2c", "v3"], "community_public": True},
    }


GRABBED = _grabbed()


@pytest.mark.parametrize("label", list(GRABBED))
def test_a_grabbed_section_goes_out_and_comes_back(label: str) -> None:
    name = label.split("-")[0]
    section = copy.deepcopy(GRABBED[label])
    shodan = TRANSLATORS[name].to_shodan(copy.deepcopy(section))
    json.dumps(shodan)  # what goes out is JSON
    assert from_shodan(name, json.loads(json.dumps(shodan)), {"data": ""}) == section


def test_the_export_is_in_shodans_shape() -> None:
    rec = {"ip_str": "127.20.3.1", "port": 0, "timestamp": "2026-12-06T00:00:00+00:00"}
    out = {label: _export([{**rec, label.split("-")[0]: GRABBED[label]}])[0]
           for label in ("cassandra-open", "mongodb", "redis", "mqtt-open", "ftp", "rsync",
                  "snmp")}
    assert out["cassandra-open"]["cassandra"]["name"] == "Test Cluster"
    build = out["mongodb"]["mongodb"]["buildInfo"]
    assert build["version"] == "7.0.2" and build["gitVersion"] == "3b3f4f6"
    assert "authentication" not in out["mongodb"]["mongodb"]  # never asked by the grabber
    r = out["redis"]["redis"]
    assert r["server"]["redis_version"] == "7.0.15" and r["server"]["arch_bits"] == 64
    assert r["clients"] == {"connected_clients": 1} and r["replication"] == {"role": "master"}
    assert out["mqtt-open"]["mqtt"]["code"] == 0
    assert out["mqtt-open"]["mqtt"]["messages"] == [
        {"topic": "$SYS/broker/version", "payload": "mosquitto 2.0.11"}]
    assert out["ftp"]["ftp"]["features"]["REST"] == {"parameters": ["STREAM"]}
    assert out["rsync"]["rsync"]["modules"] == {"pub": "public files", "priv": "private"}
    assert out["snmp"]["snmp"]["name"] == "lab-snmp" and out["snmp"]["snmp"]["uptime"] == "10969"


def test_redis_sections_cover_info_keys() -> None:
    assert set(SECTION_OF) == set(redis.INFO_KEYS)


def test_shodan_parse_reads_the_export_and_import_gives_it_back(
        store: Store, tmp_path: Path) -> None:
    when = datetime(2026, 12, 6, tzinfo=UTC)
    ports = {"cassandra-open": 9042, "mongodb": 27017, "redis": 6379, "mqtt-open": 1883,
             "ftp": 21, "rsync": 873, "snmp": 161}
    for label, port in ports.items():
        name = label.split("-")[0]
        store.add(Observation(ip="127.20.3.1", port=port, transport="tcp", timestamp=when,
                              scan_id="p", service=name, data=b"x",
                              sections={name: copy.deepcopy(GRABBED[label])}))
    store.flush()
    dump = tmp_path / "out.json.gz"
    with dump.open("wb") as f:
        assert write(store.iter_search(""), f) == len(ports)
    fields = ("port,cassandra.name,mongodb.buildInfo.version,redis.server.redis_version,"
              "redis.server.arch_bits,mqtt.code,ftp.anonymous,rsync.modules.pub,snmp.name")
    env = {**os.environ, "HOME": str(tmp_path)}
    parsed = subprocess.run(
        [sys.executable, "-m", "shodan", "parse", "--fields", fields, "--separator", "|",
         str(dump)], capture_output=True, text=True, timeout=60, env=env)
    assert parsed.returncode == 0, parsed.stderr
    rows = {line.split("|")[0]: line.split("|") for line in parsed.stdout.splitlines()}
    assert rows["9042"][1] == "Test Cluster"
    assert rows["27017"][2] == "7.0.2"
    assert rows["6379"][3:5] == ["7.0.15", "64"]
    assert rows["1883"][5] == ""  # code 0: `shodan parse` prints nothing for a falsy value
    assert rows["21"][6] == "True"
    assert rows["873"][7] == "public files"
    assert rows["161"][8] == "lab-snmp"
    # and back: the same sections
    again = tmp_path / "again.db"
    s2 = open_store(again)
    try:
        report = import_file(s2, str(dump))
        assert report.imported == len(ports)
        for rec in s2.iter_search(""):
            label = next(k for k, p in ports.items() if p == rec["port"])
            name = label.split("-")[0]
            assert rec[name] == GRABBED[label], label
    finally:
        s2.close()


# -- hostile objects --------------------------------------------------------------------
HOSTILE: list[tuple[str, Any]] = [
    ("cassandra", {"name": ["x"], "keyspaces": "system", "partitioner": 7, "thrift": "yes",
                   "supported": {"A": "b", "B": [1, "c"]}, "error": {"code": "x"}}),
    ("cassandra", {"keyspaces": ["k" * 10_000] * 100_000}),
    ("mongodb", {"authentication": "no", "buildInfo": {"version": 4, "bits": "64"},
                 "listDatabases": {"databases": [{"name": {"a": 1}}, 5, {"name": "ok",
                                                 "sizeOnDisk": -1, "collections": "c"}]},
                 "serverStatus": {"repl": ["x"]}}),
    ("mongodb", {"buildInfo": {"version": "1" * 5000, "modules": [[["deep"]]] * 1000},
                 "listDatabases": {"databases": [{"name": f"db{i}",
                                                  "collections": ["c"] * 10_000}
                                                 for i in range(5000)]}}),
    ("redis", {"server": {"redis_version": {"a": 1}, "arch_bits": True, "os": None},
               "clients": [{"id": 1}], "keyspace": {"db0": ["x"], "db1": 3}, "keys": "k"}),
    ("redis", {"server": "x", "keys": {"data": ["k"] * 100_000}, "keyspace": {
        f"db{i}": "keys=1" for i in range(10_000)}}),
    ("mqtt", {"code": 10**30, "messages": [{"topic": "$SYS/broker/version",
                                            "payload": {"x": 1}}, "m"] * 10_000}),
    ("ftp", {"anonymous": "true", "features": {"": {}, "AUTH": {"parameters": "TLS"},
                                               "X" * 1000: [1]}}),
    ("rsync", {"authentication": 0, "modules": {"m" * 1000: ["c"], "": "x"},
               "module_replies": {"m": "OK"}}),
    ("rsync", {"modules": {f"m{i}": "c" for i in range(100_000)}}),
    ("snmp", {"description": {"x": 1}, "uptime": True, "name": "n" * 100_000,
              "versions": "v2c", "sys_uptime": [1]}),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE, ids=[n for n, _ in HOSTILE])
def test_hostile_objects_are_cut_and_never_raise(name: str, value: Any) -> None:
    got = from_shodan(name, value, {"data": 5})
    text = json.dumps(got)
    assert len(text) < 200_000  # every list and string is capped
    for key in ("keyspaces", "databases", "modules"):
        assert len(got.get(key) or []) <= 100
    if name == "cassandra":
        assert "cluster_name" not in got
    if name == "redis":
        assert all(isinstance(v, str) for v in got.get("info", {}).values())


def test_a_hostile_file_imports_what_it_can(store: Store, tmp_path: Path) -> None:
    bad = [{**copy.deepcopy(CASSANDRA), "cassandra": {"name": {"nested": [[[[[]]]]]}},
            "port": 9161},
           {**copy.deepcopy(MONGODB), "mongodb": [1, 2, 3], "port": 27018},  # not an object
           {**copy.deepcopy(REDIS), "port": "not a port"},  # skipped, with its reason
           {**copy.deepcopy(RSYNC), "rsync": {"modules": {f"m{i}": "" for i in range(5000)}}}]
    report = import_file(store, str(_gz(tmp_path / "bad.json.gz", bad)),
                         transform=Reidentifier(store))
    assert report.imported == 3 and report.skipped == 1
    assert any("port" in s.reason for s in report.skips)
    (r,) = store.search("port:873")
    assert len(r["rsync"]["modules"]) == rsync.MAX_MODULES
