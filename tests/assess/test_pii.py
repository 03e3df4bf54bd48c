from datetime import UTC, datetime

import pytest

from netatlas.assess import assess, find_pii, redact
from netatlas.assess.pii import cn_id_valid
from netatlas.model import Observation

PAGE = (
    "<title>Staff</title>Contact Jane.Doe@corp-mail.de or ops@corp-mail.de, "
    "phone +1 415-555-0134 or (212) 555-0188; SSN 123-45-6789; "
    "身份证 11010519491231002X"
)


def test_counts() -> None:
    assert find_pii(PAGE) == {"email": 2, "phone": 2, "national_id": 2}


@pytest.mark.parametrize("text", [
    "nginx/1.22.1 OpenSSH_9.2p1 Redis 7.0.15 2.4.41",
    "date 2026-11-29 12:00:00, build 20240102, id 1234567890",
    "sha 0123456789abcdef0123456789abcdef01234567",
    "110105194912310021",  # 18 digits, wrong check digit
    "000-12-3456 666-12-3456 123-00-4567",  # impossible SSNs
    "user@localhost and @handle and a@b",
    "+1 2",
])
def test_no_false_positives(text: str) -> None:
    assert find_pii(text) == {}


def test_cn_id_checksum() -> None:
    assert cn_id_valid("11010519491231002X")
    assert not cn_id_valid("110105194912310021")


def test_redact() -> None:
    out = redact(PAGE)
    assert "Jane.Doe" not in out and "***@corp-mail.de" in out
    assert "555-0134" not in out and "555-0188" not in out and out.count("[PHONE]") == 2
    assert "123-45-6789" not in out and "1949" not in out and out.count("[ID]") == 2
    assert find_pii(out) == {}
    assert redact("nginx 1.22.1 on 2026-11-29") == "nginx 1.22.1 on 2026-11-29"


def _obs(**kw: object) -> Observation:
    return Observation(ip="127.20.0.2", port=80, transport="tcp",
                       timestamp=datetime(2026, 1, 1, tzinfo=UTC), scan_id="s", **kw)


def test_finding_counts_distinct_across_banner_and_html() -> None:
    o = _obs(service="http", data=("HTTP/1.1 200 OK\r\n\r\n" + PAGE).encode(),
             sections={"http": {"status": 200, "title": "Staff", "html": PAGE}})
    [f] = [f for f in assess(o) if f.id == "pii-exposed"]
    assert f.severity == "low"  # national IDs present
    assert f.evidence == "2 email, 2 national id, 2 phone"
    o = _obs(service="smtp", sections={"smtp": {"banner": "mx ESMTP postmaster@mx-lab.de",
                                                 "code": 220, "ehlo": [], "starttls": False}})
    [f] = assess(o)
    assert (f.id, f.severity, f.evidence) == ("pii-exposed", "info", "1 email")
    assert assess(_obs(service="http", sections={"http": {"status": 200, "html": "hi"}})) == []


def test_redact_observation_keeps_other_bytes() -> None:
    from netatlas.assess import redact_observation

    o = _obs(service="http", data=b"\xff\xfe mail bob@mx-lab.de \x00",
             sections={"http": {"status": 200, "title": "bob@mx-lab.de", "html": PAGE},
                       "ftp": {"banner": "call +44 20 7946 0958"}})
    redact_observation(o)
    assert o.data == b"\xff\xfe mail ***@mx-lab.de \x00"
    assert o.sections["http"]["title"] == "***@mx-lab.de"
    assert find_pii(o.sections["http"]["html"]) == {}
    assert o.sections["ftp"]["banner"] == "call [PHONE]"
    assert assess(o) == []


def test_reserved_domains_are_not_personal_data() -> None:
    # a SIP server echoing our own From: header, documentation examples
    text = ("From: <sip:netatlas@netatlas.invalid> admin@example.com root@mail.localhost "
            "ops@lab.test user@shop.example.org jane@corp-mail.de")
    assert find_pii(text) == {"email": 1}


def test_cn_id_needs_a_birth_date() -> None:
    """A random 18-digit number with a valid check digit is not an ID without a real
    birth date in it (GStreamer's SDP session ids set this off 1 run in a few hundred)."""
    from netatlas.assess.pii import _CN_CHECK, _CN_WEIGHTS, cn_id_valid

    assert cn_id_valid("11010519491231002X")
    # check digit right, month 13: not a date
    body = "11010519491331002"
    check = _CN_CHECK[sum(int(d) * w for d, w in zip(body, _CN_WEIGHTS, strict=True)) % 11]
    assert not cn_id_valid(body + check)
