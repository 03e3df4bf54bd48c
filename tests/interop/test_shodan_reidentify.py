"""``import --reidentify`` over Shodan banners whose protocol object is translated
(interop/shodan_sections.py) and whose ``data`` also holds the server's own reply that a
netatlas grabber's parser reads: the section is the union of the two, the parse of
``data`` winning where both say something (it is the server's own words)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

from netatlas.grab.protocols.redis import INFO_KEYS
from netatlas.interop import import_file
from netatlas.interop.reidentify import Reidentifier, rebuild_sections
from netatlas.interop.shodan import convert
from netatlas.store import Store

# INFO's reply body as redis-server 7.0 writes it (Redis's INFO reference,
# https://redis.io/docs/latest/commands/info/: "# Section" headers, field:value lines,
# CRLF), abridged to a few fields a section; Shodan keeps this text as the banner's
# `data` (tests/interop/data/README.md: "a Redis banner whose data is the INFO body").
INFO_BODY = (
    "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n"
    "redis_build_id:d81b8ff71cfb150e\r\nredis_mode:standalone\r\n"
    "os:Linux 6.1.0-18-amd64 x86_64\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\n"
    "multiplexing_api:epoll\r\nprocess_id:1\r\nrun_id:" + "5" * 40 + "\r\ntcp_port:6379\r\n"
    "uptime_in_seconds:864000\r\nuptime_in_days:10\r\nhz:10\r\n"
    "executable:/usr/local/bin/redis-server\r\nconfig_file:/etc/redis/redis.conf\r\n\r\n"
    "# Clients\r\nconnected_clients:7\r\nblocked_clients:0\r\n\r\n"
    "# Memory\r\nused_memory:1104496\r\nused_memory_human:1.05M\r\nmaxmemory:0\r\n"
    "maxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n\r\n"
    "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n"
    "# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0\r\n")
INFO_FIELDS = {  # what the body says of each field netatlas keeps
    "redis_version": "7.0.15", "redis_git_sha1": "00000000",
    "redis_build_id": "d81b8ff71cfb150e", "redis_mode": "standalone",
    "os": "Linux 6.1.0-18-amd64 x86_64", "arch_bits": "64", "tcp_port": "6379",
    "uptime_in_seconds": "864000", "executable": "/usr/local/bin/redis-server",
    "config_file": "/etc/redis/redis.conf", "connected_clients": "7",
    "used_memory_human": "1.05M", "maxmemory_human": "0B", "role": "master"}
assert set(INFO_FIELDS) == set(INFO_KEYS)  # the fixture covers every kept field


def _redis_banner(data: str, redis: dict[str, Any], ip: str = "192.0.2.60") -> dict[str, Any]:
    """A Shodan Redis banner (the Datapedia's general properties; `redis` is INFO's
    sections as objects, models/services/redis.go of github.com/shadowscatcher/shodan):
    made-up values, a documentation address. The sparse object is the shape of
    tests/interop/data/shodan.json.gz's Redis banner (`server.redis_version` alone)."""
    return {"_shodan": {"id": "id-6379", "module": "redis", "crawler": "c" * 40,
                        "options": {}},
            "ip_str": ip, "port": 6379, "transport": "tcp",
            "timestamp": "2026-11-30T08:14:55.118284", "product": "Redis key-value store",
            "data": data, "redis": redis}


SPARSE = _redis_banner(INFO_BODY, {"server": {"redis_version": "7.0.15"}})


def test_reidentify_takes_every_info_field_from_the_data(store: Store, tmp_path: Path
                                                         ) -> None:
    path = tmp_path / "redis.json.gz"
    path.write_bytes(gzip.compress((json.dumps(SPARSE) + "\n").encode()))
    report = import_file(store, str(path), transform=Reidentifier(store))
    assert report.error is None and report.imported == 1
    (rec,) = store.search("risk:redis-no-auth")
    assert rec["redis"]["info"] == INFO_FIELDS
    assert rec["redis"]["auth_required"] is False
    assert rec["product"] == "Redis" and rec["version"] == "7.0.15"


def test_the_data_and_the_object_make_a_union_the_data_winning() -> None:
    """INFO's text cut after its Server section (Shodan caps `data`), an object that
    says more, and one field both say differently: the object fills what the text
    lacks, the text's value stands where both speak, Shodan's keyspace and keys stay."""
    data = INFO_BODY.split("\r\n\r\n", 1)[0] + "\r\n"
    obj = {"server": {"redis_version": "7.0.14", "tcp_port": 6380},
           "clients": {"connected_clients": 2}, "memory": {"used_memory_human": "9.9M"},
           "replication": {"role": "slave"},
           "keyspace": {"db0": "keys=12,expires=0,avg_ttl=0"},
           "keys": {"data": ["session:1"], "more": True}}
    obs = convert(copy.deepcopy(_redis_banner(data, obj)))
    rebuild_sections(obs)
    section = obs.sections["redis"]
    info = section["info"]
    assert info["redis_version"] == "7.0.15" and info["tcp_port"] == "6379"  # the data's
    assert info["connected_clients"] == "2" and info["role"] == "slave"  # the object's
    assert info["used_memory_human"] == "9.9M" and info["executable"].endswith("server")
    assert section["keyspace"] == {"db0": "keys=12,expires=0,avg_ttl=0"}
    assert section["keys"] == {"data": ["session:1"], "more": True}
    assert section["auth_required"] is False


def test_an_object_without_parseable_data_is_kept() -> None:
    obs = convert(copy.deepcopy(_redis_banner("", {"server": {"redis_version": "6.2.6"}})))
    rebuild_sections(obs)
    assert obs.sections["redis"] == {"auth_required": False,
                                     "info": {"redis_version": "6.2.6"}}
