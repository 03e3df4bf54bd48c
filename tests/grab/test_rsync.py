"""rsync daemon: the parsers on bytes captured from Debian 12's rsync 3.x daemon, hostile
daemons (endless lines, no EXIT), and the real ``rsync --daemon`` started on loopback:
module list, which modules need a password, the rsync-anonymous-modules check."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.assess import assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.detect import classify_greeting
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.rsync import parse_greeting, parse_listing, parse_module_reply
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation

from .conftest import serve
from .sharing_servers import rsync_daemon

IP = "127.20.250.81"
# Captured from `rsync --daemon` (Debian 12, rsync 3.5.0 protocol 32) with a motd file
# and the modules [pub] and [priv] (auth users), answering "@RSYNCD: 31.0\n#list\n".
GREETING = b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n"
LISTING = (b"Welcome to lab\nsecond line\n\npub            \tpublic files\n"
           b"priv           \tprivate\n@RSYNCD: EXIT\n")


def test_parse_greeting() -> None:
    g = parse_greeting(GREETING)
    assert g == {"protocol": 32, "version": "32.0", "subprotocol": 0,
                 "digests": ["sha512", "sha256", "sha1", "md5", "md4"]}
    assert parse_greeting(b"@RSYNCD: 29\n") == {"protocol": 29, "version": "29"}
    assert classify_greeting(GREETING) == "rsync"
    assert classify_greeting(b"@RSYNCD: 31.0\n", 873) == "rsync"
    for bad in (b"@RSYNCD: x\n", b"RSYNCD: 31.0\n", b"@RSYNCD: 31.0"):
        with pytest.raises(ProtocolError):
            parse_greeting(bad)


def test_parse_listing() -> None:
    s = parse_listing(LISTING)
    assert s["motd"] == "Welcome to lab\nsecond line"
    assert s["modules"] == [{"name": "pub", "comment": "public files"},
                            {"name": "priv", "comment": "private"}]
    assert s["listing_complete"] is True
    err = parse_listing(b"@ERROR: access denied to #list from localhost\n")
    assert err["modules"] == [] and err["error"].startswith("@ERROR: access denied")
    assert parse_listing(b"@RSYNCD: EXIT\n") == {"listing_complete": True, "modules": []}


def test_parse_module_reply() -> None:
    # captured: MOTD lines come before the answer to a module name
    assert parse_module_reply(b"Welcome to lab\n\n@RSYNCD: OK\n") == {"auth_required": False}
    assert parse_module_reply(b"@RSYNCD: AUTHREQD YJADftb6F2n9xpFGPGCt4Q\n") == {
        "auth_required": True}
    assert parse_module_reply(b"@ERROR: Unknown module 'nope'\n") == {
        "error": "@ERROR: Unknown module 'nope'"}
    with pytest.raises(ProtocolError):
        parse_module_reply(b"Welcome\n")


def test_hostile_listing_is_capped() -> None:
    many = b"".join(b"m%d\tx\n" % i for i in range(5000)) + b"@RSYNCD: EXIT\n"
    s = parse_listing(many)
    assert len(s["modules"]) <= 100
    s = parse_listing(b"x" * 200_000)
    assert s["modules"] == [] and len(s.get("motd", "")) <= 300
    assert parse_listing(b"\t" * 1000)["modules"] == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz(data: bytes) -> None:
    parse_listing(data)
    with contextlib.suppress(ProtocolError):
        parse_greeting(b"@RSYNCD: " + data)
    with contextlib.suppress(ProtocolError):
        parse_module_reply(data)


async def test_endless_daemon_is_time_and_size_bounded(fast: GrabOptions) -> None:
    """A daemon that greets, then sends module lines forever and never EXIT."""
    async def endless(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"@RSYNCD: 31.0\n")
        await w.drain()
        await r.readline()
        while True:
            w.write(b"mod\tcomment\n" * 500)
            await w.drain()
            await asyncio.sleep(0.001)

    async with serve(endless, IP) as port:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        res = await grab_endpoint(Endpoint(IP, port), fast)
        assert loop.time() - t0 < fast.total_timeout + 2
    assert res.service == "rsync"
    assert len(res.sections["rsync"]["modules"]) <= 100
    assert len(res.data or b"") <= fast.max_bytes


async def test_greeting_only_daemon(fast: GrabOptions) -> None:
    """Greets and then says nothing: the greeting is still recorded, no modules."""
    async def mute(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"@RSYNCD: 30.0\n")
        await w.drain()
        await r.read()

    async with serve(mute, IP) as port:
        res = await grab_endpoint(Endpoint(IP, port), fast)
    assert res.service == "rsync"
    assert res.sections["rsync"]["protocol"] == 30


def _observe(ep: Endpoint, res: object) -> Observation:
    ident = Identifier().identify(res, ep)  # type: ignore[arg-type]
    return Observation.build(ep, "t", res, ident)  # type: ignore[arg-type]


async def test_real_rsync_daemon(tmp_path: Path) -> None:
    with rsync_daemon(tmp_path, IP) as port:
        ep = Endpoint(IP, port)
        res = await grab_endpoint(ep, GrabOptions())
    assert res.status == "success", res.error
    assert res.service == "rsync"
    r = res.sections["rsync"]
    assert r["protocol"] >= 30 and r["listing_complete"] is True
    assert r["motd"] == "Welcome to the netatlas test rsync"
    by_name = {m["name"]: m for m in r["modules"]}
    assert set(by_name) == {"pub", "priv"}  # [hidden] has list = no
    assert by_name["pub"] == {"name": "pub", "comment": "public files", "auth_required": False}
    assert by_name["priv"]["auth_required"] is True
    obs = _observe(ep, res)
    assert obs.product == "rsync" and obs.cpe and obs.cpe[0].startswith("cpe:/a:samba:rsync")
    [finding] = [f for f in assess(obs) if f.id == "rsync-anonymous-modules"]
    assert "'pub, priv'" in finding.evidence and "no password asked for 'pub'" in finding.evidence
    log = (tmp_path / "log").read_text()
    assert "module-list request" in log
    # nothing was transferred: no "rsync on pub/ from ..." line, no bytes sent
    assert "rsync on " not in log and not re.search(r"sent [1-9]", log)


async def test_real_rsync_daemon_listing_nothing(tmp_path: Path) -> None:
    """Every module ``list = no``: the list is empty, no finding."""
    with rsync_daemon(tmp_path, IP, listed=False) as port:
        ep = Endpoint(IP, port)
        res = await grab_endpoint(ep, GrabOptions())
    assert res.service == "rsync" and res.sections["rsync"]["modules"] == []
    assert "rsync-anonymous-modules" not in {f.id for f in assess(_observe(ep, res))}
