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


# Shodan's FTP banner: `data` is "the welcome string and results from running a few
# commands" (https://blog.shodan.io/what-is-a-banner: the greeting, the anonymous
# login's reply, HELP; Shodan users search its text for "Anonymous user logged in"), the
# `ftp` object `anonymous` and FEAT as {name: {parameters}} (models/services/ftp.go of
# github.com/shadowscatcher/shodan). Replies as vsftpd 3.0.3 words them; FEAT in the
# server's order, the object's keys sorted as a Go map is written.
FTP_DATA = (
    "220 (vsFTPd 3.0.3)\r\n230 Login successful.\r\n"
    "214-The following commands are recognized.\r\n ABOR ACCT ALLO APPE CDUP CWD  DELE"
    " EPRT EPSV FEAT HELP LIST MDTM MKD\r\n214 Help OK.\r\n"
    "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n"
    " UTF8\r\n211 End\r\n")
FTP = {"_shodan": {"id": "id-21", "module": "ftp", "crawler": "c" * 40, "options": {}},
       "ip_str": "192.0.2.61", "port": 21, "transport": "tcp",
       "timestamp": "2026-11-30T08:14:55.118284", "data": FTP_DATA,
       "ftp": {"anonymous": True, "features_hash": -1226918487, "features": {
           k: {"parameters": p} for k, p in sorted({
               "UTF8": [], "EPRT": [], "EPSV": [], "MDTM": [], "PASV": [],
               "REST": ["STREAM"], "SIZE": [], "TVFS": []}.items())}}}
FEAT_SAID = ["EPRT", "EPSV", "MDTM", "PASV", "REST STREAM", "SIZE", "TVFS", "UTF8"]

# Shodan's rsync banner: the `rsync` object's `authentication` and `modules` {name:
# comment} (models/services/rsync.go; LeakLooker reads both); `data` the daemon's own
# greeting and listing, as netatlas's grabber keeps them too (grab/protocols/rsync.py).
# The greeting is rsync 3.4.1's (protocol 32 with its digest list, as
# rapid7/metasploit-framework#21793 records it); the listing's form is rsyncd's (MOTD,
# a blank line, name<TAB>comment, @RSYNCD: EXIT).
RSYNC_DATA = ("@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\nWelcome to the mirror\n\n"
              "pub            \tpublic files\nbackup         \t\n@RSYNCD: EXIT\n")
RSYNC = {"_shodan": {"id": "id-873", "module": "rsync", "crawler": "c" * 40, "options": {}},
         "ip_str": "192.0.2.62", "port": 873, "transport": "tcp",
         "timestamp": "2026-11-30T08:14:55.118284", "data": RSYNC_DATA,
         "rsync": {"authentication": False,
                   "modules": {"backup": "", "pub": "public files", "old": "retired"}}}


def test_reidentify_joins_ftp_and_rsync_data_with_their_objects(
        store: Store, tmp_path: Path) -> None:
    path = tmp_path / "s.json.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(b) + "\n" for b in (FTP, RSYNC))
                                   .encode()))
    report = import_file(store, str(path), transform=Reidentifier(store))
    assert report.error is None and report.imported == 2
    (f,) = store.search("risk:ftp-anonymous")
    assert f["ftp"]["banner"] == "(vsFTPd 3.0.3)" and f["ftp"]["code"] == 220
    assert f["ftp"]["features"] == FEAT_SAID  # the server's order, not the object's
    assert f["ftp"]["anonymous"] is True  # the object's: the text does not say which
    assert f["product"] == "vsftpd" and f["version"] == "3.0.3"  # from the greeting
    assert store.count("risk:cleartext-login port:21") == 1
    (r,) = store.search("risk:rsync-anonymous-modules")
    section = r["rsync"]
    assert (section["protocol"], section["version"]) == (32, "32.0")
    assert section["digests"] == ["sha512", "sha256", "sha1", "md5", "md4"]
    assert section["motd"] == "Welcome to the mirror" and section["listing_complete"]
    assert section["auth_required"] is False
    # the listing's order, then what only the object names
    assert section["modules"] == [{"name": "pub", "comment": "public files"},
                                  {"name": "backup", "comment": ""},
                                  {"name": "old", "comment": "retired"}]
    assert store.count("rsync.module:old") == 1


def test_a_greeting_alone_does_not_erase_the_objects_modules() -> None:
    obs = convert({**copy.deepcopy(RSYNC), "data": "@RSYNCD: 31.0\n"})
    rebuild_sections(obs)
    assert obs.sections["rsync"]["protocol"] == 31
    assert [m["name"] for m in obs.sections["rsync"]["modules"]] == ["backup", "pub", "old"]


def test_an_ftp_like_greeting_of_an_unnamed_service_is_not_taken_for_ftp() -> None:
    obs = convert({"ip_str": "192.0.2.63", "port": 25, "timestamp": "2026-11-30T08:14:55",
                   "data": "220 mail.example.test ESMTP Postfix\r\n"})
    rebuild_sections(obs)
    assert "ftp" not in obs.sections
