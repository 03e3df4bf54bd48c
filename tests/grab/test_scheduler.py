"""The nmap probe scheduler: its order (sans-IO, over the installed probe file and a small
one written here), nmap's softmatch and fallback rules against servers the tests start,
and its bounds against a tarpit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from netatlas.grab import GrabOptions
from netatlas.grab.engine import scheduler as sch
from netatlas.grab.engine.context import GrabContext
from netatlas.identify.nmap_probes import DEFAULT_PATH, NmapProbes, shared
from netatlas.model import Endpoint, GrabResult

from .conftest import serve

HOST = "127.20.12.201"  # this suite's own address (NETATLAS_LAB_NET 127.20.12.0/24)

# A probe file in nmap's format: Alpha (rarity 1, port 7000) softmatches "widget";
# Beta can only name "other"; Gamma names widget's version; Delta has no line of its own
# for widget but falls back to Gamma; Rare is above every intensity but port 7001's.
PROBES = r"""
Probe TCP NULL q||
totalwaitms 6000
match banner m|^BANNER (\d+)| p/Banner/ v/$1/

Probe TCP Alpha q|ALPHA\r\n|
rarity 1
ports 7000
softmatch widget m|^WIDGET\r\n|
match other m|^ALPHA-OTHER| p/Other/

Probe TCP Beta q|BETA\r\n|
rarity 2
match other m|^BETA-OTHER| p/Other/

Probe TCP Gamma q|GAMMA\r\n|
rarity 3
match widget m|^WIDGET v([\d.]+)| p/Widget/ v/$1/

Probe TCP Delta q|DELTA\r\n|
rarity 4
fallback Gamma
match other m|^DELTA-OTHER| p/Other/

Probe TCP Rare q|RARE\r\n|
rarity 9
ports 7001
match rare m|^RARE| p/Rare/
"""


@pytest.fixture
def probe_file(tmp_path: Path) -> Path:
    path = tmp_path / "nmap-service-probes"
    path.write_text(PROBES)
    return path


@pytest.fixture
def db(probe_file: Path) -> NmapProbes:
    return NmapProbes.load(probe_file)


def names(probes: list) -> list[str]:  # type: ignore[type-arg]
    return [p.name for p in probes]


def test_plan_port_first_then_rarity_up_to_intensity(db: NmapProbes) -> None:
    assert names(sch.plan(db, 7000, False, 9)) == ["Alpha", "Beta", "Gamma", "Delta", "Rare"]
    assert names(sch.plan(db, 7000, False, 2)) == ["Alpha", "Beta"]
    # a probe whose ports hold the port goes first, whatever its rarity (nmap's rule)
    assert names(sch.plan(db, 7001, False, 2)) == ["Rare", "Alpha", "Beta"]
    assert names(sch.plan(db, 7000, False, 9, sch.Knowledge(sent={"Alpha", "Gamma"}))) == [
        "Beta", "Delta", "Rare"]


def test_plan_prefers_what_can_name_a_softmatched_service(db: NmapProbes) -> None:
    order = sch.plan(db, 1234, False, 9, sch.Knowledge(prefer={"widget"}))
    assert names(order)[:2] == ["Gamma", "Delta"]  # Delta through its fallback
    assert db.can_match(db.probe("Delta"), "widget")  # type: ignore[arg-type]
    assert not db.can_match(db.probe("Beta"), "widget")  # type: ignore[arg-type]


@pytest.mark.skipif(not DEFAULT_PATH.is_file(), reason="nmap is not installed")
def test_plan_over_the_installed_probe_file() -> None:
    real = shared()
    assert real is not None
    plain = names(sch.plan(real, 40123, False, 7))  # a port no probe lists
    assert "NULL" not in plain and plain[0] == "GenericLines"  # rarity 1, file order
    rarities = [real.probe(n).rarity for n in plain]  # type: ignore[union-attr]
    assert rarities == sorted(rarities) and max(rarities) <= 7  # type: ignore[type-var]
    # our TLS hello and GET met silence: nmap's hellos and text-line probes are skipped
    silent = names(sch.plan(real, 40123, False, 7, sch.Knowledge(
        sent={"GetRequest"}, silent_tls=True, silent_http=True)))
    assert {"SSLSessionReq", "TLSSessionReq", "GenericLines", "Help", "HTTPOptions"}.isdisjoint(
        silent)
    assert silent[0] == "DNSVersionBindReqTCP" and "LDAPSearchReq" in silent
    # over TLS the sslports count: 636 puts the LDAP probes first
    assert names(sch.plan(real, 636, True, 7))[:2] == ["LDAPSearchReq", "LDAPBindReq"]
    assert names(sch.plan(real, 389, False, 0)) == ["LDAPSearchReq", "LDAPBindReq"]


class Widget:
    """A server that answers each probe line from a table, and records what it got."""

    def __init__(self, replies: dict[bytes, bytes]) -> None:
        self.replies = replies
        self.got: list[bytes] = []
        self.active = 0
        self.max_active = 0

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            line = await r.readline()
            self.got.append(line.strip())
            reply = self.replies.get(line.strip())
            if reply is None:
                return  # hang up on what it does not know
            w.write(reply)
            await w.drain()
            await asyncio.sleep(0.05)
        finally:
            self.active -= 1


def context(port: int, probe_file: Path, **kw: object) -> GrabContext:
    opts = GrabOptions(banner_wait=0.3, read_timeout=1.0, connect_timeout=1.0,
                       nmap_probes=str(probe_file), **kw)  # type: ignore[arg-type]
    return GrabContext(ep=Endpoint(HOST, port), opts=opts, result=GrabResult())


async def run(ctx: GrabContext, know: sch.Knowledge | None = None):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    return await sch.run(ctx, know or sch.Knowledge(answered=True), loop.time() + 10)


async def test_softmatch_narrows_to_probes_that_can_name_the_service(probe_file: Path) -> None:
    server = Widget({b"ALPHA": b"WIDGET\r\n", b"BETA": b"BETA-OTHER\r\n",
                     b"GAMMA": b"WIDGET v1.2\r\n"})
    async with serve(server, HOST) as port:
        ctx = context(port, probe_file, probe_parallel=1, nmap_intensity=9)
        found = await run(ctx)
    assert found is not None and not found.soft
    assert (found.service, found.product, found.version, found.probe) == (
        "widget", "Widget", "1.2", "Gamma")
    # Beta cannot name a widget: never sent; Gamma's hard match ends the run
    assert server.got == [b"ALPHA", b"GAMMA"]
    assert set(ctx.result.responses) == {"Alpha", "Gamma"}


async def test_fallback_lines_match_a_probe_reply(probe_file: Path, db: NmapProbes) -> None:
    delta = db.probe("Delta")
    assert delta is not None
    hit = db.match_probe(delta, b"WIDGET v3.1\r\n")  # Delta's own lines know no widget
    assert hit is not None and (hit.product, hit.version, hit.probe) == ("Widget", "3.1",
                                                                        "Delta")
    server = Widget({b"DELTA": b"WIDGET v3.1\r\n"})
    async with serve(server, HOST) as port:
        ctx = context(port, probe_file, probe_parallel=1, nmap_intensity=9)
        found = await run(ctx)
    assert found is not None and (found.probe, found.version) == ("Delta", "3.1")
    assert server.got == [b"ALPHA", b"BETA", b"GAMMA", b"DELTA"]  # nmap's order


async def test_first_hard_match_stops_and_earlier_replies_count(probe_file: Path) -> None:
    server = Widget({b"ALPHA": b"ALPHA-OTHER\r\n"})
    async with serve(server, HOST) as port:
        ctx = context(port, probe_file, probe_parallel=1, nmap_intensity=9)
        found = await run(ctx)
        assert found is not None and found.product == "Other"
        assert server.got == [b"ALPHA"]
        # a greeting that already hard-matches: nothing is sent at all
        ctx = context(port, probe_file, nmap_intensity=9)
        ctx.result.responses["NULL"] = b"BANNER 7\r\n"
        found = await run(ctx)
    assert found is not None and (found.product, found.version) == ("Banner", "7")
    assert server.got == [b"ALPHA"]


async def tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def test_tarpit_costs_one_silent_window(probe_file: Path) -> None:
    counter = Widget({})

    async def counted_tarpit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        counter.active += 1
        counter.max_active = max(counter.max_active, counter.active)
        try:
            await tarpit(r, w)
        finally:
            counter.active -= 1

    async with serve(counted_tarpit, HOST) as port:
        ctx = context(port, probe_file, nmap_intensity=9, probe_parallel=2, silent_budget=0.5)
        know = sch.Knowledge()
        found = await run(ctx, know)
    assert found is None and not ctx.result.responses
    # the silent budget (0.5 s, under one read time-out) ends the run after the first
    # window of two probes, not one wait per probe: 2 of the file's 5 sent
    assert know.probes_sent == 2 and know.sent == {"Alpha", "Beta"}
    assert counter.max_active <= 2


async def test_answering_endpoint_gets_the_probe_budget(probe_file: Path) -> None:
    """Silence from some probes is bounded by probe_budget once the endpoint answered."""
    async def half(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        line = (await r.readline()).strip()
        if line == b"ALPHA":
            return  # hang up: it answers something
        await tarpit(r, w)

    async with serve(half, HOST) as port:
        ctx = context(port, probe_file, nmap_intensity=9, probe_parallel=1, probe_budget=1.5,
                      silent_budget=0.3)
        know = sch.Knowledge()
        found = await run(ctx, know)
    assert found is None
    # Alpha answered (a hang-up); Beta then waited its whole read time-out (1 s), past
    # the 0.3 s silent budget, and Gamma was sent within the 1.5 s probe budget, which
    # ended the run before Delta and Rare
    assert know.sent == {"Alpha", "Beta", "Gamma"} and know.probes_sent == 3


async def test_no_probe_file_means_no_scheduler(tmp_path: Path) -> None:
    ctx = context(9, tmp_path / "missing")
    assert await run(ctx) is None
    ctx.opts.nmap_probes = None
    assert await run(ctx) is None
