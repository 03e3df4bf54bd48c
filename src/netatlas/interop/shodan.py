"""Shodan banners: one JSON object a line, as ``shodan download`` writes them
(``.json.gz``) and the API's ``matches`` hold them. Field names are Shodan's (and
mostly netatlas's own): ``ip_str`` / ``ip``, ``port``, ``transport``, ``timestamp``,
``data``, ``product``, ``version``, ``cpe``, ``hostnames``, ``org``, ``isp``, ``asn``,
``location``, ``tags``, ``vulns``, ``_shodan.module``, and protocol sections (``http``,
``ssl``, ``ssh``, ...), kept as sections. The properties netatlas's grabbers also
write under their own shape — ``elastic``, ``cassandra``, ``mongodb``, ``redis``,
``mqtt``, ``ftp``, ``rsync``, ``snmp``, ``smb`` — become netatlas's sections
(shodan_sections.py, one translator each): searchable with their fields and rated as
the grabber's would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from netatlas.model import Observation

from . import shodan_sections
from ._common import (
    MAX_DATA,
    MAX_LIST,
    Item,
    Origin,
    address,
    data_bytes,
    each_object,
    mapping,
    port_number,
    text,
    text_list,
    timestamp,
    transport,
)

LOCATION_KEYS = ("country_code", "country_name", "city", "region_code", "latitude",
                 "longitude", "postal_code", "area_code", "dma_code")
# top-level objects that are Shodan's bookkeeping, not a protocol section
_NOT_SECTIONS = {"_shodan", "location", "opts", "vulns", "screenshot"}
_HEAVY = {"favicon": ("data",), "http": ("html",)}  # bulky members, capped below
MAX_SECTION_TEXT = MAX_DATA


def _module(name: Any) -> str | None:
    """Shodan's crawler module -> a netatlas service name (https-simple-new -> http)."""
    m = text(name, 64)
    if not m:
        return None
    m = m.lower()
    for suffix in ("-simple-new", "-simple", "-new"):
        m = m.removesuffix(suffix)
    return "http" if m == "https" else m


def _vulns(value: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if isinstance(value, list):  # the minified form: a list of ids
        value = {v: {} for v in value if isinstance(v, str)}
    if not isinstance(value, dict):
        return out
    for cve, info in list(value.items())[:MAX_LIST]:
        if not isinstance(cve, str):
            continue
        info = info if isinstance(info, dict) else {}
        entry: dict[str, Any] = {}
        if isinstance(info.get("cvss"), int | float):
            entry["cvss"] = float(info["cvss"])
        if isinstance(info.get("verified"), bool):
            entry["verified"] = info["verified"]
        if summary := text(info.get("summary"), 1024):
            entry["summary"] = summary
        out[cve[:32]] = entry
    return out


def _section(value: dict[str, Any], name: str, rec: dict[str, Any]) -> dict[str, Any]:
    translated = shodan_sections.from_shodan(name, value, rec)
    if translated is not None:
        return translated
    out = dict(value)
    if name == "http":
        if isinstance(out.get("html"), str):
            out["html"] = out["html"][:MAX_SECTION_TEXT]
        fav = out.get("favicon")
        if isinstance(fav, dict):
            out["favicon"] = {k: v for k, v in fav.items() if k != "data"}
    return out


def convert(rec: dict[str, Any]) -> Observation:
    ip = address(rec.get("ip_str") or rec.get("ipv6") or rec.get("ip"))
    obs = Observation(
        ip=ip, port=port_number(rec.get("port")), transport=transport(rec.get("transport")),
        timestamp=timestamp(rec.get("timestamp")), scan_id="",
        product=text(rec.get("product")), version=text(rec.get("version"), 255),
        cpe=text_list(rec.get("cpe") or rec.get("cpe23")),
        data=data_bytes(rec.get("data")), hostnames=text_list(rec.get("hostnames")),
        tags=text_list(rec.get("tags")), info=text(rec.get("info")), os=text(rec.get("os")),
        devicetype=text(rec.get("devicetype")), org=text(rec.get("org")),
        isp=text(rec.get("isp")), asn=text(rec.get("asn"), 32),
        vulns=_vulns(rec.get("vulns")),
    )
    meta = mapping(rec.get("_shodan"))
    obs.service = _module(meta.get("module"))
    loc = rec.get("location")
    if isinstance(loc, dict):
        kept = {k: loc.get(k) for k in LOCATION_KEYS if loc.get(k) is not None}
        obs.location = kept or None
    for key, value in rec.items():
        if isinstance(value, dict) and key not in _NOT_SECTIONS and not key.startswith("_"):
            obs.sections[key[:64]] = _section(value, key, rec)
    shodan = {k: text(meta.get(k), 128) for k in ("id", "module", "crawler")
              if meta.get(k)}
    if shodan:
        obs.sections["shodan"] = shodan
    return obs


def read(stream: IO[bytes], origin: Origin) -> Iterator[Item]:
    return each_object(stream, origin, "shodan-json", convert)
