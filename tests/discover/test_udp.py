"""UdpDiscoverer against real loopback UDP sockets (127.20.11.200+; never port 2024)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from netatlas.discover import MixedDiscoverer, Payloads, UdpDiscoverer
from netatlas.discover._payloads import NMAP_PAYLOADS, parse_nmap_payloads, unescape
from netatlas.grab.protocols import dns, ntp, snmp
from netatlas.model import Endpoint

from ..grab.udpserver import HOST, closed_port, echo_ok, junk_flood, silent, udp_server

NO_NMAP = Payloads(nmap_file=None)


async def _collect(d: UdpDiscoverer, eps: list[Endpoint]) -> list[tuple[int, Endpoint]]:
    return [x async for x in d.run(enumerate(eps))]


async def test_open_closed_and_silent() -> None:
    async with udp_server(echo_ok) as (p_open, _), udp_server(silent) as (p_quiet, quiet):
        eps = [Endpoint(HOST, p_open, "udp"), Endpoint(HOST, closed_port(), "udp"),
               Endpoint(HOST, p_quiet, "udp")]
        d = UdpDiscoverer(timeout=0.3, retries=1, payloads=NO_NMAP)
        found = await _collect(d, eps)
    assert found == [(0, eps[0])]  # silence is open|filtered, never open
    st = d.stats
    assert (st.open, st.closed, st.filtered, st.errors) == (1, 1, 1, 0)
    assert st.retried == 1 and st.sent == 4  # only the silent one was sent again
    # the silent port got the generic set twice (first send and one retry)
    assert len(quiet.received) == 2 * len(NO_NMAP.for_port(p_quiet))
    assert d.watermark == 3


async def test_reply_from_another_port_is_not_an_answer() -> None:
    async with udp_server(echo_ok, from_other_port=True) as (port, proto):
        d = UdpDiscoverer(timeout=0.2, retries=0, payloads=NO_NMAP)
        found = await _collect(d, [Endpoint(HOST, port, "udp")])
    assert proto.received  # it did answer, from the wrong source port
    assert found == [] and d.stats.filtered == 1


@pytest.mark.timeout(30)  # a hang guard: the flood never stops on its own
async def test_junk_flood_is_one_bounded_answer() -> None:
    async with udp_server(junk_flood) as (port, _):
        d = UdpDiscoverer(timeout=1.0, retries=3, payloads=NO_NMAP, max_reply=512)
        found = await _collect(d, [Endpoint(HOST, port, "udp")])
    assert found == [(0, Endpoint(HOST, port, "udp"))]
    # the first datagram ends the probe: one sent, none re-sent, no time-out counted
    assert d.stats.sent == 1 and d.stats.retried == 0 and d.stats.filtered == 0


async def test_late_answer_while_waiting_to_resend() -> None:
    """Timed out, queued for a re-send behind the rate limit, then answered: it is open
    once, never re-sent, and its socket (free again) serves the next probes safely."""
    async with udp_server(echo_ok, delay=0.2) as (port, _):
        eps = [Endpoint(HOST, port, "udp")] + [Endpoint(HOST, closed_port(), "udp")] * 3
        d = UdpDiscoverer(rate=2, timeout=0.1, retries=2, payloads=NO_NMAP)
        found = await _collect(d, eps)
    assert found == [(0, eps[0])]
    st = d.stats
    assert (st.open, st.closed, st.retried, st.sent) == (1, 3, 1, 4)


async def test_rate_limit_spaces_the_probes() -> None:
    eps = [Endpoint(HOST, closed_port(), "udp") for _ in range(30)]
    d = UdpDiscoverer(rate=100, timeout=0.5, payloads=NO_NMAP)
    t0 = time.monotonic()
    await _collect(d, eps)
    assert time.monotonic() - t0 >= 0.25  # 30 probes at 100/s, one token to start
    assert d.stats.closed == 30


async def test_concurrency_caps_sockets_in_flight() -> None:
    async with udp_server(silent) as (port, _):
        eps = [Endpoint(HOST, port, "udp")] * 12
        d = UdpDiscoverer(concurrency=4, timeout=0.15, retries=0, payloads=NO_NMAP)
        t0 = time.monotonic()
        await _collect(d, eps)
    assert d.stats.filtered == 12
    assert time.monotonic() - t0 >= 3 * 0.15 * 0.9  # three waves of four


async def test_positions_must_increase() -> None:
    d = UdpDiscoverer(timeout=0.1, payloads=NO_NMAP)
    ep = Endpoint(HOST, closed_port(), "udp")
    with pytest.raises(ValueError, match="increase"):
        [x async for x in d.run([(5, ep), (3, ep)])]


async def test_mixed_runs_both_transports_and_keeps_the_watermark() -> None:
    from netatlas.discover import Discoverer

    async with udp_server(echo_ok) as (p_udp, _):
        eps = [Endpoint(HOST, p_udp, "tcp"), Endpoint(HOST, p_udp, "udp"),
               Endpoint(HOST, closed_port(), "udp"), Endpoint(HOST, closed_port(), "tcp")]
        mixed = MixedDiscoverer(Discoverer(timeout=0.3),
                                UdpDiscoverer(timeout=0.3, payloads=NO_NMAP))
        assert mixed.watermark == 0
        found = [x async for x in mixed.run(lambda: iter(enumerate(eps)))]
    assert found == [(1, eps[1])]
    assert mixed.watermark >= len(eps)  # both engines finished their walks
    assert mixed.stats["udp"].open == 1 and mixed.stats["tcp"].closed == 2


# -- payloads -----------------------------------------------------------------------

SAMPLE = r'''
# a comment
udp 7 "\x0D\x0A\x0D\x0A"
udp 53,5353
  "\x77\x77\x01\x00\x00"
  "\x01\x00version\x04bind\x00"
udp 500
  "\x00\x11"
source 500
udp 32768-32770 "a\"b\\c"
'''


def test_parse_nmap_payloads_format() -> None:
    entries = parse_nmap_payloads(SAMPLE)
    assert entries == [
        ([(7, 7)], b"\r\n\r\n"),
        ([(53, 53), (5353, 5353)], b"\x77\x77\x01\x00\x00\x01\x00version\x04bind\x00"),
        ([(32768, 32770)], b'a"b\\c'),  # the fixed-source-port entry is left out
    ]
    assert unescape(r"\0\r\n\t\x41") == b"\x00\r\n\tA"


def test_payloads_own_first_then_nmap_then_generic(tmp_path: Path) -> None:
    f = tmp_path / "nmap-payloads"
    f.write_text(SAMPLE)
    p = Payloads(nmap_file=f)
    v2c, v3 = p.for_port(161)
    assert snmp.parse_response  # the grabber's own messages go out
    assert v2c[4:10] == b"\x04\x06public" or b"public" in v2c
    assert v3.startswith(b"\x30") and b"\x02\x01\x03" in v3[:8]
    assert p.for_port(123)[0][0] == 0xE3 and len(p.for_port(123)[0]) == 48
    assert p.for_port(53)[0][-4:] == bytes([0, 16, 0, 3])  # TXT, CHAOS
    assert all(x[:2] == b"\x81\x0a" for x in p.for_port(47808))  # BACnet/IP unicast
    assert p.for_port(7) == (b"\r\n\r\n", *p.generic)
    assert p.for_port(40000) == p.generic
    assert ntp.client_request(b"\0" * 8)[0] == 0xE3 and dns.message(qid=1)[:2] == b"\0\x01"


@pytest.mark.skipif(not NMAP_PAYLOADS.is_file(), reason="nmap-payloads not installed")
def test_reads_the_installed_nmap_payloads_in_place() -> None:
    p = Payloads()
    assert len(p.nmap) > 20
    assert any(b"version\x04bind" in data for _, data in p.nmap)
    assert len(p.for_port(137)) >= 2  # NBTStat and the generic set
