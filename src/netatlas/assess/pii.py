"""Personal data in what servers return: e-mail addresses, phone numbers and
national-ID-looking numbers. Patterns are strict (formatted phone numbers, checksummed
IDs) so that version strings, dates and hashes do not count."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from ..model import Finding, Observation, banner_text

SCAN_MAX = 64 * 1024  # per text; hostile pages can be large

EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])"
)
# International (+CC ...) or North-American (xxx) xxx-xxxx / xxx-xxx-xxxx forms only.
PHONE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}"
    r"|\(\d{3}\) ?\d{3}-\d{4}|\d{3}-\d{3}-\d{4})(?![\w.-])"
)
# US SSN (area not 000/666/9xx, group not 00, serial not 0000) in its dashed form.
SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
# PRC resident ID: 17 digits + check digit (digit or X), validated by ISO 7064 MOD 11-2.
CN_ID = re.compile(r"(?<![\w])\d{17}[\dXx](?![\w])")
_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_CHECK = "10X98765432"


def cn_id_valid(text: str) -> bool:
    """The check digit and a real birth date (digits 7-14): a random 18-digit number
    (an RTSP server's SDP session id) passes the check digit alone one time in 11."""
    if not CN_ID.fullmatch(text) or text[0] not in "12345678":
        return False
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= date.today().year:
        return False
    total = sum(int(d) * w for d, w in zip(text[:17], _CN_WEIGHTS, strict=True))
    return _CN_CHECK[total % 11] == text[17].upper()


# RFC 2606 / 6761 names: never a person's address. Servers echo ours (SIP's From:
# <sip:netatlas@netatlas.invalid>) and show these in examples and defaults.
_RESERVED_TLDS = ("test", "example", "invalid", "localhost")
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")


def _reserved(address: str) -> bool:
    domain = address.rsplit("@", 1)[1].lower()
    return domain.rsplit(".", 1)[-1] in _RESERVED_TLDS or any(
        domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS)


def _phones(text: str) -> list[str]:
    # at least 9 digits: "+1 2" or a version "2.4.41" is not a phone number
    return [m for m in PHONE.findall(text) if 9 <= sum(c.isdigit() for c in m) <= 15]


def pii_matches(text: str) -> dict[str, set[str]]:
    """Distinct hits by kind; kinds with no hit are left out."""
    text = text[:SCAN_MAX]
    hits = {
        "email": {m.lower() for m in EMAIL.findall(text) if not _reserved(m)},
        "phone": set(_phones(text)),
        "national_id": set(SSN.findall(text)) | {m for m in CN_ID.findall(text)
                                                  if cn_id_valid(m)},
    }
    return {k: v for k, v in hits.items() if v}


def find_pii(text: str) -> dict[str, int]:
    """Counts of distinct hits by kind."""
    return {k: len(v) for k, v in pii_matches(text).items()}


def _mask_email(m: re.Match[str]) -> str:
    domain = m.group(0).rsplit("@", 1)[1]
    return f"***@{domain}"


def redact(text: str) -> str:
    """The text with every e-mail local part, phone number and national ID masked."""
    text = EMAIL.sub(_mask_email, text)
    text = CN_ID.sub(lambda m: "[ID]" if cn_id_valid(m.group(0)) else m.group(0), text)
    text = SSN.sub("[ID]", text)
    return PHONE.sub(
        lambda m: "[PHONE]" if 9 <= sum(c.isdigit() for c in m.group(0)) <= 15 else m.group(0),
        text,
    )


def texts(obs: Observation) -> Iterable[str]:
    """What a server said: the banner, the page and its title, protocol banners."""
    yield banner_text(obs.data[:SCAN_MAX])
    http = obs.sections.get("http") or {}
    for key in ("title", "html"):
        value = http.get(key)
        if isinstance(value, str):
            yield value
    for name in ("ftp", "smtp"):
        value = (obs.sections.get(name) or {}).get("banner")
        if isinstance(value, str):
            yield value


def pii_finding(obs: Observation) -> Finding | None:
    found: dict[str, set[str]] = {}
    for text in texts(obs):  # distinct across texts: the banner often repeats the page
        for kind, hits in pii_matches(text).items():
            found.setdefault(kind, set()).update(hits)
    if not found:
        return None
    total = {k: len(v) for k, v in found.items()}
    evidence = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(total.items()))
    return Finding("pii-exposed", "low" if "national_id" in total else "info",
                   "Personal data in server response", evidence)


def _redact_bytes(data: bytes) -> bytes:
    # surrogateescape keeps every non-UTF-8 byte exactly as it was
    return redact(data.decode("utf-8", errors="surrogateescape")).encode(
        "utf-8", errors="surrogateescape")


def redact_observation(obs: Observation) -> None:
    """``--redact-pii``: mask personal data in place (banner, page, title, protocol
    banners) before the record is stored. Run ``assess`` first: it counts what is masked."""
    obs.data = _redact_bytes(obs.data)
    http = obs.sections.get("http")
    if isinstance(http, dict):
        for key in ("title", "html"):
            if isinstance(http.get(key), str):
                http[key] = redact(http[key])
    for name in ("ftp", "smtp"):
        section = obs.sections.get(name)
        if isinstance(section, dict) and isinstance(section.get("banner"), str):
            section["banner"] = redact(section["banner"])
