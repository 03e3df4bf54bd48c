"""Shodan's ``smb`` banner property and netatlas's ``smb`` section, both ways
(interop/shodan_smb.py): what lines up is translated, Shodan's ``anonymous`` is kept as
Shodan's word and never read as a null session, a grabbed section goes out in Shodan's
shape that ``shodan parse`` reads and comes back the same."""

from __future__ import annotations

import copy
import gzip
import json
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from netatlas.grab.codecs import ntlm
from netatlas.grab.protocols import smb
from netatlas.interop import import_file
from netatlas.interop.reidentify import Reidentifier
from netatlas.interop.shodan import convert
from netatlas.interop.shodan_sections import from_shodan, to_shodan
from netatlas.interop.shodan_writer import write
from netatlas.model import Observation
from netatlas.store import Store, open_store
from tests.grab.test_smb import CHALLENGE_RSP, GRANTED_RSP, NEGOTIATE_RSP

# A Shodan SMB banner: the members every banner has (the Datapedia's general
# properties) and the `smb` object as models/services/smb.go of
# github.com/shadowscatcher/shodan types it: smb_version (int), capabilities ([]string),
# os, software, shares (name, type, comments, special, temporary, files: name,
# directory, read-only, size), anonymous, raw ([]string, hex). Values made up (the
# source types the capabilities' strings but does not list them); a documentation
# address.
BANNER: dict[str, Any] = {
    "_shodan": {"id": "id-445", "module": "smb", "crawler": "c" * 40, "options": {}},
    "ip_str": "192.0.2.70", "port": 445, "transport": "tcp",
    "timestamp": "2026-11-30T08:14:55.118284", "org": "Example Org",
    "data": "SMB Status:\n  Authentication: disabled\n  SMB Version: 2\n",
    "smb": {
        "smb_version": 2, "anonymous": True, "os": "Windows Server 2016 Standard 14393",
        "software": "", "capabilities": ["DFS", "LEASING", "LARGE_MTU"],
        "raw": ["000000f0fe534d42400000000000000000000100"],
        "shares": [
            {"name": "IPC$", "type": "IPC", "comments": "Remote IPC", "special": True,
             "temporary": False},
            {"name": "public", "type": "Disk", "comments": "", "special": False,
             "temporary": False, "files": [
                 {"name": "reports", "directory": True, "read-only": False, "size": 0},
                 {"name": "budget.xlsx", "directory": False, "read-only": True,
                  "size": 18234}]}],
    },
}
EXPECTED = {
    "protocol": "SMB2", "capabilities": ["DFS", "LEASING", "LARGE_MTU"],
    "os": "Windows Server 2016 Standard 14393", "anonymous": True,
    "shares": [
        {"name": "IPC$", "type": "IPC", "comments": "Remote IPC", "special": True,
         "temporary": False},
        {"name": "public", "type": "Disk", "special": False, "temporary": False,
         "files": [{"name": "reports", "directory": True, "read_only": False, "size": 0},
                   {"name": "budget.xlsx", "directory": False, "read_only": True,
                    "size": 18234}]}],
}


def test_the_shodan_object_becomes_the_section() -> None:
    section = convert(copy.deepcopy(BANNER)).sections["smb"]
    assert section == EXPECTED  # no raw, no null_session, no session: not said


def test_imported_with_reidentify_anonymous_is_not_a_null_session(
        store: Store, tmp_path: Path) -> None:
    path = tmp_path / "smb.json.gz"
    path.write_bytes(gzip.compress((json.dumps(BANNER) + "\n").encode()))
    report = import_file(store, str(path), transform=Reidentifier(store))
    assert report.error is None and report.imported == 1
    (rec,) = store.search("port:445")
    assert rec["smb"]["shares"][1]["files"][1]["name"] == "budget.xlsx"
    assert rec["smb"]["anonymous"] is True
    assert store.count("risk:smb-null-session") == 0  # Shodan's anonymous is not one
    assert store.count("risk:smb-signing-not-required") == 0  # Shodan does not say


def _grabbed() -> dict[str, dict[str, Any]]:
    """Sections as the grabber writes them, from the replies tests/grab/test_smb.py
    captured from Samba 4.17 (and its SMB1-only reply built there)."""
    blob = smb.parse_session_setup(smb.unframe(CHALLENGE_RSP))[2]
    granted = smb.session_verdict(*smb.parse_session_setup(smb.unframe(GRANTED_RSP))[:2])
    smb2 = {"protocol": "SMB2", **smb.parse_negotiate_response(smb.unframe(NEGOTIATE_RSP)),
            "ntlm": ntlm.parse_challenge(ntlm.find_challenge(blob)), "session": granted,
            "null_session": granted["granted"], "smb1": False}
    # tests/grab/test_smb.py::test_smb1_negotiate's SMB1-only server (NT LM 0.12, no
    # extended security), as the grabber files it (protocol SMB1, smb1, smb1_dialect)
    words = struct.pack("<HBHHIIIIQhB", 5, 0x03, 50, 1, 16644, 65536, 0, 0xE3FD,
                        133000000000000000, 0, 8)
    data = b"\x11" * 8 + "WORKGROUP\0OLDBOX\0".encode("utf-16-le")
    header = struct.pack("<4sBIBHH8sHHHHH", b"\xffSMB", 0x72, 0, 0x88, 0xC001, 0,
                         b"\x00" * 8, 0, 0, 0xFEFF, 0, 0)
    reply = smb.parse_smb1_negotiate(header + b"\x11" + words
                                     + struct.pack("<H", len(data)) + data)
    smb1 = {"protocol": "SMB1", **{k: v for k, v in reply.items() if k != "accepted"},
            "smb1": True, "smb1_dialect": reply["dialect"]}
    return {"smb2": smb2, "smb1": smb1, "imported": EXPECTED}


GRABBED = _grabbed()


@pytest.mark.parametrize("label", list(GRABBED))
def test_a_section_goes_out_and_comes_back(label: str) -> None:
    section = copy.deepcopy(GRABBED[label])
    banner = {"smb": copy.deepcopy(section)}
    to_shodan(banner)
    out = json.loads(json.dumps(banner["smb"]))
    assert from_shodan("smb", out, {"data": ""}) == section


def test_the_export_is_in_shodans_shape_and_shodan_parse_reads_it(
        store: Store, tmp_path: Path) -> None:
    when = datetime(2026, 12, 6, tzinfo=UTC)
    for port, label in ((445, "smb2"), (139, "smb1")):
        store.add(Observation(ip="127.20.3.2", port=port, transport="tcp", timestamp=when,
                              scan_id="p", service="microsoft-ds", data=b"x",
                              sections={"smb": copy.deepcopy(GRABBED[label])}))
    store.flush()
    dump = tmp_path / "out.json.gz"
    with dump.open("wb") as f:
        assert write(store.iter_search(""), f) == 2
    banners = {b["port"]: b for b in map(json.loads, gzip.decompress(dump.read_bytes())
                                         .splitlines())}
    assert banners[445]["smb"]["smb_version"] == 2 and banners[139]["smb"]["smb_version"] == 1
    assert banners[445]["smb"]["capabilities"] == ["DFS", "LEASING", "LARGE_MTU",
                                                   "MULTI_CHANNEL"]
    assert "anonymous" not in banners[445]["smb"]  # the grabber's null session is not it
    env = {**os.environ, "HOME": str(tmp_path)}
    parsed = subprocess.run(
        [sys.executable, "-m", "shodan", "parse", "--fields",
         "port,smb.smb_version,smb.dialect,smb.signing_required", "--separator", "|",
         str(dump)], capture_output=True, text=True, timeout=60, env=env)
    assert parsed.returncode == 0, parsed.stderr
    rows = {line.split("|")[0]: line.split("|")[1:] for line in parsed.stdout.splitlines()}
    assert rows["445"][:2] == ["2", "3.1.1"] and rows["139"][:2] == ["1", "NT LM 0.12"]
    again = open_store(tmp_path / "again.db")
    try:
        assert import_file(again, str(dump)).imported == 2
        for rec in again.iter_search(""):
            assert rec["smb"] == GRABBED["smb2" if rec["port"] == 445 else "smb1"]
        assert again.count("smb.dialect:3.1.1 smb.signing_required:false") == 1
    finally:
        again.close()


@pytest.mark.parametrize("value", [
    {"smb_version": "2", "capabilities": "DFS", "os": ["x"], "anonymous": "yes",
     "shares": {"name": "x"}, "ntlm": {"x": "y" * 10_000}, "session": 5},
    {"smb_version": 10**30, "shares": [{"name": "s", "files": [{"name": "f"}] * 100_000}]
     * 1000, "capabilities": ["c" * 10_000] * 100_000},
])
def test_hostile_objects_are_cut_and_never_raise(value: dict[str, Any]) -> None:
    got = from_shodan("smb", value, {"data": 5})
    assert len(json.dumps(got)) < 200_000
    assert "null_session" not in got and "protocol" not in got
