"""Each importer over its fixture (tests/interop/data/README.md says where each shape
comes from): detection, the records it yields, and bad lines skipped with their line
number and reason. No store: readers are pure functions of the bytes."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from netatlas.interop import InputError, Skip, sniff
from netatlas.interop._input import open_input
from netatlas.interop.importer import read_items
from netatlas.model import Observation

DATA = Path(__file__).parent / "data"


def _read(path: Path) -> tuple[str, list[Observation], list[Skip]]:
    inp = open_input(str(path))
    try:
        det = sniff(inp.head)
        items = list(read_items(inp, det))
    finally:
        inp.close()
    obs = [i for i in items if isinstance(i, Observation)]
    return det.format + "/" + det.variant, obs, [i for i in items if isinstance(i, Skip)]


def _by_endpoint(obs: list[Observation]) -> dict[tuple[str, int, str], Observation]:
    return {(o.ip, o.port, o.transport): o for o in obs}


@pytest.mark.parametrize("name,variant,bad_line", [
    ("masscan.oJ.json", "json", 12), ("masscan.oD.ndjson", "ndjson", 5),
    ("masscan.oL.txt", "list", 6), ("masscan.oX.xml", "xml", None)])
def test_masscan_every_output_form_gives_the_same_merged_endpoints(
        name: str, variant: str, bad_line: int | None) -> None:
    fmt, obs, skips = _read(DATA / name)
    assert fmt == f"masscan/{variant}"
    got = _by_endpoint(obs)
    assert set(got) == {("192.0.2.10", 80, "tcp"), ("192.0.2.11", 22, "tcp"),
                        ("192.0.2.12", 53, "udp")}
    web = got[("192.0.2.10", 80, "tcp")]
    # the open status and the banner records of one endpoint are one observation,
    # at the time the port was found open, with the banner's bytes unescaped
    assert web.timestamp.timestamp() == 1700000000
    assert web.service == "http"
    assert web.data == b"HTTP/1.0 200 OK\r\nServer: nginx/1.22.1\r\n\r\n"
    assert got[("192.0.2.11", 22, "tcp")].data.startswith(b"SSH-2.0-OpenSSH_8.9p1")
    assert all(o.source == "masscan" and o.scan_id == f"import-masscan-{name}" for o in obs)
    assert [s.line for s in skips] == ([bad_line] if bad_line else [])


def test_zgrab2_modules_map_to_sections() -> None:
    fmt, obs, skips = _read(DATA / "zgrab2.jsonl")
    assert fmt == "zgrab2/jsonl"
    got = _by_endpoint(obs)
    web = got[("192.0.2.20", 80, "tcp")]
    assert web.sections["http"]["title"] == "Example Domain"
    assert web.sections["http"]["server"] == "nginx/1.18.0 (Ubuntu)"
    assert web.hostnames == ["www.example.test"]
    assert got[("192.0.2.21", 22, "tcp")].sections["ssh"]["software"] == "OpenSSH_7.4"
    tls = got[("192.0.2.22", 443, "tcp")].sections["ssl"]
    assert tls["cert"]["subject"]["CN"] == "mail.example.test"
    assert tls["version"] == "TLSv1.2"
    assert got[("192.0.2.23", 21, "tcp")].data == b"220 (vsFTPd 3.0.3)\r\n"
    assert ("192.0.2.24", 80, "tcp") not in got  # a connection time-out observed nothing
    assert got[("192.0.2.25", 6379, "tcp")].data.startswith(b"# Server")
    assert [(s.line, s.reason.split(":")[0]) for s in skips] == [
        (7, "no data{} of module results"), (8, "not JSON")]


def test_httpx_lines_become_http_observations() -> None:
    fmt, obs, skips = _read(DATA / "httpx.jsonl")
    assert fmt == "httpx/jsonl"
    got = _by_endpoint(obs)
    tls = got[("192.0.2.30", 443, "tcp")]
    assert tls.hostnames == ["www.example.test"]
    assert tls.sections["http"]["status"] == 200
    assert tls.sections["http"]["favicon"] == {"hash": -1840324437}
    assert tls.sections["ssl"]["version"] == "TLSv1.3"
    assert [t["name"] for t in tls.sections["http"]["technologies"]] == ["Azure", "Nginx"]
    assert got[("192.0.2.31", 8080, "tcp")].sections["http"]["status"] == 401  # v1.1 keys
    # a line with only a host name is skipped (nothing is resolved); a failed probe is
    # not an observation and not an error
    assert [(s.line, s.reason.split(" (")[0]) for s in skips] == [(3, "no IP address")]
    assert len(obs) == 2


def test_shodan_banners_keep_their_fields() -> None:
    fmt, obs, skips = _read(DATA / "shodan.json.gz")
    assert fmt == "shodan/jsonl"
    got = _by_endpoint(obs)
    redis = got[("192.0.2.40", 6379, "tcp")]
    assert redis.service == "redis" and redis.org == "Example Org" and redis.asn == "AS64500"
    assert redis.location is not None and redis.location["country_code"] == "FR"
    assert redis.timestamp.isoformat() == "2023-11-14T22:13:20.123456+00:00"
    web = got[("192.0.2.41", 443, "tcp")]
    assert web.service == "http" and web.sections["ssl"]["cert"]["subject"]["CN"]
    assert "data" not in web.sections["http"]["favicon"]
    assert web.vulns["CVE-2021-23017"]["cvss"] == 7.5
    assert got[("2001:db8::5", 22, "tcp")].product == "OpenSSH"
    assert [s.line for s in skips] == [3, 4]


def test_detection_needs_a_known_shape() -> None:
    with pytest.raises(InputError):
        sniff(b'{"foo": 1}\n')
    with pytest.raises(InputError):
        sniff(b"<html></html>")
    assert sniff(b'{"ip_str": "1.2.3.4", "scan_id": "x", "port": 1}\n').format == "netatlas"


@pytest.mark.parametrize("pack", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_inputs_are_recognised_by_their_bytes(tmp_path: Path, pack: object) -> None:
    raw = (DATA / "masscan.oD.ndjson").read_bytes()
    path = tmp_path / "scan.out"  # no telling extension
    path.write_bytes(pack(raw))  # type: ignore[operator]
    fmt, obs, _ = _read(path)
    assert fmt == "masscan/ndjson" and len(obs) == 3


def test_nmap_xml_refuses_entity_declarations(tmp_path: Path) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<nmaprun start="1700000000">'
            b'<host><address addr="192.0.2.1" addrtype="ipv4"/></host></nmaprun>')
    path = tmp_path / "bomb.xml"
    path.write_bytes(bomb)
    _, obs, skips = _read(path)
    assert not obs and "entity declarations are not allowed" in skips[0].reason


def test_a_truncated_nmap_file_keeps_the_complete_hosts(tmp_path: Path) -> None:
    host = ('<host starttime="1700000000"><status state="up"/>'
            '<address addr="192.0.2.{i}" addrtype="ipv4"/><ports><port protocol="tcp" '
            'portid="22"><state state="open"/><service name="ssh"/></port></ports></host>\n')
    text = '<?xml version="1.0"?>\n<nmaprun scanner="nmap" start="1700000000">\n' + \
        "".join(host.format(i=i) for i in range(1, 4))
    path = tmp_path / "cut.xml"
    path.write_text(text[:-40])  # cut inside the third host
    _, obs, skips = _read(path)
    assert [o.ip for o in obs] == ["192.0.2.1", "192.0.2.2"]
    assert len(skips) == 1 and "cut short" in skips[0].reason and skips[0].line == 5
