"""Sections read out of an imported banner's ``data`` by the grabbers' own parsers
(sans-IO), for ``import --reidentify``, and their union with the section the producer
wrote.

A producer that keeps the server's own reply as the banner's text, and a protocol
object beside it, says some facts twice: Shodan's ``redis`` object is INFO parsed (it
may hold one field of INFO's many), its ``data`` INFO's text; its ``ftp`` object holds
``anonymous`` and FEAT, its ``data`` the greeting and the replies to the commands it
sent (Shodan: "for FTP it means welcome string and results from running a few
commands", https://blog.shodan.io/what-is-a-banner); its ``rsync`` object holds
``authentication`` and ``modules``, its ``data`` the daemon's greeting and module
listing as netatlas's grabber keeps them. The section is the union, the parse of
``data`` winning where both say something (it is the server's own words); what a cut
text does not say (an empty listing) does not erase what the object says.

Not here: Shodan's ``mongodb``, ``cassandra``, ``mqtt`` and ``snmp`` banners keep
Shodan's own text rendering in ``data`` ("MongoDB Server Information", "Cassandra\\nName:",
"MQTT Connection Code:", "SNMP:\\n  Versions:"), not the wire replies those grabbers
parse (BSON, CQL frames, CONNACK, BER); its ``elastic`` banner keeps an HTTP head and an
"Elastic Indices:" list without GET /'s JSON, which the ``http`` rebuild reads already.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.engine.lines import parse_reply
from netatlas.grab.protocols import ftp, rsync
from netatlas.grab.protocols.redis import parse_info_reply

Section = dict[str, Any]


def redis_section(data: bytes) -> Section | None:
    if data.startswith((b"$", b"-")):
        reply = data
    elif b"redis_version:" in data:  # INFO's body without RESP framing (Shodan)
        reply = b"$%d\r\n%s\r\n" % (len(data), data)
    else:
        return None
    try:
        section = parse_info_reply(reply)
    except ProtocolError:
        return None
    return section if section.get("info") or section.get("error") else None


_REPLY_START = re.compile(rb"([1-5][0-9]{2})([ -])")


def ftp_replies(data: bytes) -> list[bytes]:
    """FTP's replies in a run of text (``ddd-`` opens a multi-line reply that the line
    ``ddd `` of the same code closes); lines outside any reply are dropped."""
    out: list[bytes] = []
    open_code: bytes | None = None
    for line in data.splitlines(keepends=True)[:2000]:
        m = _REPLY_START.match(line)
        if open_code is not None:
            out[-1] += line
            if m and m.group(1) == open_code and m.group(2) == b" ":
                open_code = None
        elif m:
            out.append(line)
            open_code = m.group(1) if m.group(2) == b"-" else None
    return out


def ftp_section(data: bytes) -> Section | None:
    """The greeting (``banner``, ``code``) and, when the text holds them, FEAT's lines
    and SYST's answer, as the grabber writes them. Which command a 230 or a 530
    answered is not in the text: ``anonymous`` stays the producer's."""
    replies = ftp_replies(data)
    if not replies:
        return None
    code, lines = parse_reply(replies[0])
    if code is None:
        return None
    out: Section = {"banner": "\n".join(lines)[:4096], "code": code}
    for reply in replies[1:]:
        if (features := ftp.parse_feat(reply)) and "features" not in out:
            out["features"] = features
        elif (syst := ftp.parse_syst(reply)) and "syst" not in out:
            out["syst"] = syst
    return out


def rsync_section(data: bytes) -> Section | None:
    if not rsync.is_greeting(data):
        return None
    line, _, rest = data.partition(b"\n")
    try:
        out = rsync.parse_greeting(line + b"\n")
    except ProtocolError:
        return None
    if rest.strip():
        out.update(rsync.parse_listing(rest))
    return out


# section name -> (its parser, whether a record of no known service may be rebuilt by it:
# an FTP greeting's reply code is SMTP's too, so only a record said to be FTP is)
PARSERS: dict[str, tuple[Callable[[bytes], Section | None], bool]] = {
    "redis": (redis_section, True),
    "ftp": (ftp_section, False),
    "rsync": (rsync_section, True),
}


def _says(value: Any) -> bool:
    return value is not None and value != [] and value != {}


def _by_name(have: list[Any], parsed: list[Any]) -> list[Any] | None:
    """Two lists of named entries (rsync's modules) as one: each parsed entry over the
    producer's of that name, then the producer's the parse does not list."""
    if not all(isinstance(x, dict) and "name" in x for x in (*have, *parsed)):
        return None
    theirs = {x["name"]: x for x in have}
    out = [{**theirs.get(x["name"], {}), **x} for x in parsed]
    seen = {x["name"] for x in parsed}
    return out + [x for x in have if x["name"] not in seen]


def union(have: Any, parsed: Section) -> Section:
    """The producer's section and the parse of its banner, together; the parse wins
    where both say something, the producer fills the rest."""
    if not isinstance(have, dict):
        return parsed
    out = dict(have)
    for key, value in parsed.items():
        if not _says(value) and key in have:
            continue
        mine = have.get(key)
        if isinstance(value, dict) and isinstance(mine, dict):
            out[key] = {**mine, **value}
        elif isinstance(value, list) and isinstance(mine, list) \
                and (merged := _by_name(mine, value)) is not None:
            out[key] = merged[: rsync.MAX_MODULES]
        else:
            out[key] = value
    return out
