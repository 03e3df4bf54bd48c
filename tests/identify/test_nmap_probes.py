"""nmap-service-probes: parsing, templates, nmap's match order, time bounds."""

from __future__ import annotations

import pytest

from netatlas.identify.nmap_probes import (
    DEFAULT_PATH,
    MAX_INPUT,
    NmapProbes,
    expand,
    literal_prefix,
    parse,
    parse_match,
    pcre_braces,
    unescape_c,
)

needs_nmap = pytest.mark.skipif(not DEFAULT_PATH.is_file(),
                                reason="nmap-service-probes not installed")

SAMPLE = r"""
# comment
Exclude T:9100-9107
Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ftp m|^220 \(vsFTPd ([-.\w]+)\)\r\n$| p/vsftpd/ v/$1/ o/Unix/ cpe:/a:vsftpd:vsftpd:$1/
softmatch ftp m|^220[- ]|
match ftp m|^220 Evil(.*)| p/should not win over the softmatch service/
@SSH@
match weird m|^W(..)| p/Weird/ v/$I(1,">")/ i/$P(1)/
match subst m|^S([\d,]+)| p/Subst/ v/$SUBST(1,",",".")/
bogus line here
Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80-85,8080
sslports 443
@HTTP@
Probe TCP HTTPOptions q|OPTIONS / HTTP/1.0\r\n\r\n|
rarity 4
fallback GetRequest
Probe UDP DNSStatus q|\0\0\x10\0\0\0\0\0\0\0\0\0|
rarity 1
ports 53
""".replace(
    "@SSH@",
    r"match ssh m=^SSH-([\d.]+)-OpenSSH_([\w._-]+)\r?\n=i p|OpenSSH| v/$2/ i/protocol $1/"
    r" h/box/ d/router/ cpe:/a:openbsd:openssh:$2/a",
).replace(
    "@HTTP@",
    r"match http m|^HTTP/1\.[01] \d\d\d.*\r\nServer: nginx/([\d.]+)\r\n|s p/nginx/ v/$1/"
    r" cpe:/a:igor_sysoev:nginx:$1/",
)


@pytest.fixture()
def sample() -> NmapProbes:
    probes, exclude, stats = parse(SAMPLE.splitlines())
    return NmapProbes(probes, exclude=exclude, parse_stats=stats)


def test_parse_sample(sample: NmapProbes) -> None:
    st = sample.parse_stats
    assert (st.probes, st.matches, st.softmatches, st.bad_lines) == (4, 6, 1, 1)
    assert sample.exclude == "T:9100-9107"
    null = sample.probe("NULL")
    assert null is not None and null.payload == b"" and null.totalwaitms == 6000
    assert null.tcpwrappedms == 3000
    get = sample.probe("GetRequest")
    assert get is not None
    assert get.payload == b"GET / HTTP/1.0\r\n\r\n"
    assert get.ports == ((80, 85), (8080, 8080)) and get.sslports == ((443, 443),)
    assert get.rarity == 1 and get.covers(83) and not get.covers(86) and get.covers(443, ssl=True)
    opts = sample.probe("HTTPOptions")
    assert opts is not None and opts.fallback == ("GetRequest",)
    dns = sample.probe("DNSStatus", "UDP")
    assert dns is not None and dns.payload == b"\0\0\x10" + b"\0" * 9


def test_match_line_fields() -> None:
    m = parse_match(r"ssh m=^SSH-([\d.]+)-x=i p|OpenSSH| v/$2/ h/box/ cpe:/a:openbsd:openssh:$2/a",
                    soft=False, line=7)
    assert m.service == "ssh" and m.flags == "i" and m.pattern == rb"^SSH-([\d.]+)-x"
    assert m.templates == {"p": "OpenSSH", "v": "$2", "h": "box"}
    assert m.cpe == ("cpe:/a:openbsd:openssh:$2",)


def test_ssh_match(sample: NmapProbes) -> None:
    [r] = sample.match({"NULL": b"ssh-2.0-OpenSSH_9.2p1\r\n"})  # flag i
    assert (r.service, r.product, r.version, r.info) == ("ssh", "OpenSSH", "9.2p1",
                                                         "protocol 2.0")
    assert (r.hostname, r.devicetype, r.soft) == ("box", "router", False)
    assert r.cpe == ["cpe:/a:openbsd:openssh:9.2p1"]


def test_softmatch_restricts_later_matches(sample: NmapProbes) -> None:
    [r] = sample.match({"NULL": b"220 Evil FTP\r\n"})
    # the softmatch came first: only ftp matches may follow, and "Evil" is ftp
    assert (r.service, r.product, r.soft) == ("ftp", "should not win over the softmatch service",
                                              False)
    [s] = sample.match({"NULL": b"220-hello\r\n"})
    assert (s.service, s.product, s.soft) == ("ftp", None, True)


def test_helpers(sample: NmapProbes) -> None:
    [w] = sample.match({"NULL": b"W\x01\x02"})
    assert (w.version, w.info) == ("258", None)  # $P drops unprintable bytes -> empty
    [s] = sample.match({"NULL": b"S1,2,3"})
    assert s.version == "1.2.3"


def test_fallback_and_null_chain(sample: NmapProbes) -> None:
    reply = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n"
    [r] = sample.match({"HTTPOptions": reply})  # no own match -> fallback GetRequest
    assert (r.product, r.version, r.probe) == ("nginx", "1.22.1", "HTTPOptions")
    [f] = sample.match({"GetRequest": b"220 (vsFTPd 3.0.3)\r\n"})  # NULL is implicit
    assert f.product == "vsftpd"
    assert sample.match({"UnknownProbe": reply}) == []
    assert sample.match({"DNSStatus": reply}, transport="udp") == []


def test_unescape_c() -> None:
    assert unescape_c(r"\0\x41\r\n\t\\q") == b"\x00A\r\n\t\\q"


@pytest.mark.parametrize(
    ("pattern", "flags", "prefix"),
    [
        (rb"^SSH-([\d.]+)-OpenSSH", "", b"SSH-"),
        (rb"^220 \(vsFTPd", "", b"220 (vsFTPd"),
        (rb"^HTTP/1\.[01] \d\d\d", "", b"HTTP/1."),
        (rb"^\0\0\x01.R", "", b"\x00\x00\x01"),
        (rb"^ab?c", "", b"a"),
        (rb"^abc*", "", b"ab"),
        (rb"^ab{2}", "", b"a"),
        (rb"^abc|^xyz", "", b""),
        (rb"^(?:abc|xyz)", "", b""),
        (rb"^[ab]c", "", b""),
        (rb"^abc", "i", b""),
        (rb"abc", "", b""),
        (rb"^a\dc", "", b"a"),
        (rb"^\x41\x4", "", b"A"),
    ],
)
def test_literal_prefix(pattern: bytes, flags: str, prefix: bytes) -> None:
    assert literal_prefix(pattern, flags) == prefix


def test_pcre_braces() -> None:
    assert pcre_braces(rb"^\d+{x} a{2,3} \{") == rb"^\d+\{x} a{2,3} \{"


def test_template_expand_escapes() -> None:
    class Hit:
        def group(self, n: int) -> bytes:
            return b"a\x00b"

    assert expand("v$1", Hit()) == "va\\x00b"
    assert expand("$P(1)", Hit()) == "ab"


@pytest.mark.timeout(30)  # a hang guard: without the bound this never ends
def test_catastrophic_pattern_stopped() -> None:
    # with "|" as delimiter the pattern would end at the "|": nmap picks another one
    _, _, bad = parse("Probe TCP NULL q||\nmatch evil m|^(a|aa)+$| p/Evil/\n".splitlines())
    assert bad.bad_lines == 1 and bad.matches == 0  # logged and skipped, not fatal
    evil = "Probe TCP NULL q||\nmatch evil m=^(a|aa)+$= p/Evil/\n"
    probes, _, stats = parse(evil.splitlines())
    db = NmapProbes(probes, parse_stats=stats, timeout=0.05)
    assert db.match({"NULL": b"a" * 60 + b"b"}) == []  # 2^30 steps unbounded
    assert db.stats.timeouts == 1  # the time-out stopped it (the mark guards a hang)


def test_input_capped() -> None:
    probes, _, stats = parse("Probe TCP NULL q||\nmatch t m|x$| p/T/\n".splitlines())
    db = NmapProbes(probes, parse_stats=stats)
    assert db.match({"NULL": b"a" * MAX_INPUT + b"x"}) == []
    assert db.match({"NULL": b"a" * 100 + b"x"})[0].product == "T"


# -- the installed file ------------------------------------------------------------

@pytest.fixture(scope="module")
def real() -> NmapProbes:
    return NmapProbes.load(DEFAULT_PATH)


@needs_nmap
def test_real_file_figures(real: NmapProbes) -> None:
    st = real.parse_stats
    print(f"\nnmap-service-probes: {st.probes} probes, {st.matches} matches, "
          f"{st.softmatches} softmatches, {st.bad_lines} bad lines, {st.seconds:.3f}s")
    assert st.probes >= 100 and st.matches >= 10_000 and st.softmatches >= 100
    assert st.bad_lines == 0  # (st.seconds is printed above: a figure, not a limit)
    null = real.probe("NULL")
    assert null is not None and null.totalwaitms
    get = real.probe("GetRequest")
    assert get is not None and get.payload == b"GET / HTTP/1.0\r\n\r\n" and get.covers(80)


@needs_nmap
def test_real_openssh_from_null(real: NmapProbes) -> None:
    [r] = real.match({"NULL": b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"})
    assert (r.service, r.product, r.os) == ("ssh", "OpenSSH", "Linux")
    assert r.version == "9.2p1 Debian 2+deb12u3"
    assert "cpe:/a:openbsd:openssh:9.2p1" in r.cpe


@needs_nmap
def test_real_nginx_from_get(real: NmapProbes) -> None:
    reply = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n"
             b"<html><title>Welcome to nginx!</title></html>")
    [r] = real.match({"GetRequest": reply})
    assert (r.service, r.product, r.version) == ("http", "nginx", "1.22.1")


@needs_nmap
def test_real_compile_and_prefilter_sound(real: NmapProbes) -> None:
    """Every pattern compiles, and the literal-prefix shortcut never hides a match."""
    assert real.compile_all() == 0
    samples = [
        b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
        b"220 (vsFTPd 3.0.3)\r\n",
        b"220 lab.test ESMTP Postfix (Debian/GNU)\r\n",
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\n\r\n",
        b"J\x00\x00\x00\n8.0.35\x00\x0b\x00\x00\x00abcdefgh\x00",
        b"-ERR unknown command\r\n",
        b"\x00\x00\x00\x00",
    ]
    checked = 0
    for name in ("NULL", "GetRequest"):
        probe = real.probe(name)
        assert probe is not None
        for m in probe.matches:
            if not m.prefix:
                continue
            pat = m.compiled(real.stats)
            for data in samples:
                if data.startswith(m.prefix):
                    continue
                checked += 1
                assert pat.search(data, timeout=0.5) is None, (m.line, data)
    assert checked > 10_000
