"""Recog XML read in place: loading, its own examples as a test corpus, lab banners."""

from __future__ import annotations

from pathlib import Path

import pytest

from netatlas.identify import Identifier, list_sources
from netatlas.identify.recog import (
    RecogDB,
    RecogError,
    load_file,
    recog_dirs,
    ruby_to_python,
)
from netatlas.model import Endpoint, GrabResult

FP = Path(__file__).resolve().parents[2] / ".." / "shared" / "fingerprints"
pytestmark = pytest.mark.skipif(not (FP / "recog").is_dir(),
                                reason=f"Recog data not found at {FP}/recog")


@pytest.fixture(scope="module")
def db() -> RecogDB:
    return RecogDB.load([FP])


def lab_result() -> GrabResult:
    return GrabResult(sections={
        "ssh": {"version_string": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
                "software": "OpenSSH_9.2p1", "comment": "Debian-2+deb12u3"},
        "ftp": {"banner": "(vsFTPd 3.0.3)", "code": 220},
        "smtp": {"banner": "mail.lab.test ESMTP Exim 4.96 Sun, 29 Nov 2026 05:00:00 +0000",
                 "code": 220},
        "http": {"server": "nginx/1.22.1", "headers": {"server": "nginx/1.22.1"}},
    })


def test_load_counts_and_compiles_nothing() -> None:
    db = RecogDB.load([FP])
    # what keeps loading quick: every pattern compiles on first use, none at load
    assert all(fp._compiled is None for fps in db.by_key.values() for fp in fps)
    assert len(db.files) == len(list((FP / "recog").glob("*.xml")))
    assert db.rule_count > 4000
    for key in ("ssh.banner", "ftp.banner", "smtp.banner", "http_header.server",
                "html_title", "pop3.banner", "imap4.banner", "mysql.banners",
                "telnet_banners"):
        assert db.by_key.get(key), key


def test_examples_match_their_fingerprints(db: RecogDB) -> None:
    rep = db.self_test()
    assert rep.total > 7000
    assert rep.rate >= 0.95, rep.failures[:20]


@pytest.mark.parametrize("key,text,product,version", [
    ("ssh.banner", "OpenSSH_9.2p1 Debian-2+deb12u3", "OpenSSH", "9.2p1"),
    ("ftp.banner", "(vsFTPd 3.0.3)", "vsFTPd", "3.0.3"),
    ("smtp.banner", "mail.lab.test ESMTP Exim 4.96 Sun, 29 Nov 2026 05:00:00 +0000",
     "exim", "4.96"),
    ("http_header.server", "nginx/1.22.1", "nginx", "1.22.1"),
    ("http_header.server", "Apache/2.4.57 (Debian)", "HTTPD", "2.4.57"),
])
def test_lab_banners(db: RecogDB, key: str, text: str, product: str, version: str) -> None:
    hit = db.match(key, text)
    assert hit is not None
    assert (hit[1].get("service.product"), hit[1].get("service.version")) == (product, version)


def test_candidates_from_sections(db: RecogDB) -> None:
    got = {c.service: c for c in db.candidates(lab_result())}
    assert (got["ssh"].product, got["ssh"].version, got["ssh"].os) == ("OpenSSH", "9.2p1",
                                                                       "Linux")
    assert "cpe:/a:openbsd:openssh:9.2p1" in got["ssh"].cpe
    assert (got["ftp"].product, got["ftp"].version) == ("vsFTPd", "3.0.3")
    assert (got["smtp"].product, got["smtp"].version) == ("exim", "4.96")
    assert got["http"].cpe == ["cpe:/a:f5:nginx:1.22.1"]
    assert all(c.source == "recog" for c in got.values())


def ep(port: int) -> Endpoint:
    return Endpoint("127.20.0.1", port)


def test_engine_recog_alone_names_products(tmp_path: Path) -> None:
    """Without our own rules, Recog names the product (no nmap, no port guess)."""
    ident = Identifier(rule_paths=[tmp_path], nmap=None, port_guess=False,
                       fingerprints=[FP])
    ssh = GrabResult(sections={"ssh": lab_result().sections["ssh"]})
    i = ident.identify(ssh, ep(22))
    assert (i.service, i.product, i.version, i.source) == ("ssh", "OpenSSH", "9.2p1", "recog")


def test_engine_own_rules_keep_their_names_and_cpes() -> None:
    """With our rules, Recog agrees and adds nothing that clashes (vendor spellings)."""
    ident = Identifier(nmap=None, fingerprints=[FP])
    ftp = GrabResult(service="ftp", sections={"ftp": lab_result().sections["ftp"]})
    i = ident.identify(ftp, ep(21))
    assert (i.product, i.version, i.cpe) == ("vsftpd", "3.0.3",
                                             ["cpe:/a:beasts:vsftpd:3.0.3"])
    smtp = GrabResult(service="smtp", sections={"smtp": lab_result().sections["smtp"]})
    i = ident.identify(smtp, ep(25))
    assert (i.product, i.version) == ("Exim", "4.96")


def test_ruby_regex_translation() -> None:
    assert ruby_to_python(r"^\h+\z") == r"^[0-9a-fA-F]+\Z"
    assert ruby_to_python(r"[\h:]+") == r"[0-9a-fA-F:]+"
    assert ruby_to_python(r"(?m)a.b") == r"(?s)a.b"
    assert ruby_to_python(r"(?im:x)") == r"(?is:x)"
    assert ruby_to_python(r"a\.b\z") == r"a\.b\Z"


def test_doctype_refused(tmp_path: Path) -> None:
    evil = tmp_path / "recog" / "evil.xml"
    evil.parent.mkdir()
    evil.write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n'
                    '<fingerprints matches="ssh.banner"><fingerprint pattern="&a;"/>'
                    '</fingerprints>\n')
    with pytest.raises(RecogError):
        load_file(evil)
    assert RecogDB.load([tmp_path]).files == []


@pytest.mark.timeout(30)  # a hang guard: without the bound this never ends
def test_catastrophic_pattern_stopped(tmp_path: Path) -> None:
    d = tmp_path / "recog"
    d.mkdir()
    (d / "evil.xml").write_text(
        '<fingerprints matches="http_header.server">\n'
        '  <fingerprint pattern="^(a|aa)+$"><example>aaaa</example>\n'
        '    <param pos="0" name="service.product" value="Evil"/></fingerprint>\n'
        '  <fingerprint pattern="^a+b$"><example>ab</example>\n'
        '    <param pos="0" name="service.product" value="Fine"/></fingerprint>\n'
        '</fingerprints>\n')
    db = RecogDB.load([tmp_path], timeout=0.05)
    assert db.self_test().rate == 1.0
    hit = db.match("http_header.server", "a" * 60 + "b")  # 2^30 steps unbounded: the
    assert db.stats.timeouts == 1  # time-out stopped it (the mark below guards a hang)
    assert hit is not None and hit[1]["service.product"] == "Fine"


def test_paths_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NETATLAS_FINGERPRINTS", f"{tmp_path}:{FP}")
    assert recog_dirs() == [FP / "recog"]
    monkeypatch.setenv("NETATLAS_FINGERPRINTS", str(FP / "recog"))
    assert recog_dirs() == [FP / "recog"]
    monkeypatch.delenv("NETATLAS_FINGERPRINTS")
    assert recog_dirs() == []


def test_listed_as_a_source(tmp_path: Path) -> None:
    rows = list_sources(nmap_path=None, fingerprints=[FP])
    assert ("recog", str(FP / "recog"), RecogDB.load([FP]).rule_count) in rows
    assert not any(n == "recog" for n, _, _ in
                   list_sources(nmap_path=None, fingerprints=[tmp_path]))
