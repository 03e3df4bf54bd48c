"""Geo / ASN / organisation lookups over local MaxMind-format databases.

Any MMDB works: GeoLite2/GeoIP2 City or Country (``country``, ``city``, ``location``),
ASN (``autonomous_system_number``/``_organization``), ISP-style databases
(``isp``/``organization``), or one database holding several of these. Several files
can be given; the first that knows a field wins. Output uses Shodan's names:
``location`` {country_code, country_name, city, region_code, latitude, longitude},
``asn`` ("AS123") and ``org``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import maxminddb

CACHE_SIZE = 65_536  # addresses; a dashboard asks about the same hosts over and over
LOCATION_KEYS = ("country_code", "country_name", "city", "region_code", "latitude", "longitude")


def _name(section: Any, lang: str = "en") -> str | None:
    if not isinstance(section, dict):
        return None
    names = section.get("names")
    if isinstance(names, dict):
        value = names.get(lang) or next(iter(names.values()), None)
        return str(value) if value is not None else None
    value = section.get("name")
    return str(value) if value is not None else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None  # drop NaN


def _from_entry(entry: Any) -> dict[str, Any]:
    """Map one MMDB entry (whatever its type) to our field names; absent -> missing."""
    if not isinstance(entry, dict):
        return {}
    loc: dict[str, Any] = {}
    country = entry.get("country") or entry.get("registered_country")
    if isinstance(country, dict):
        if country.get("iso_code"):
            loc["country_code"] = str(country["iso_code"])
        if (name := _name(country)) is not None:
            loc["country_name"] = name
    if (city := _name(entry.get("city"))) is not None:
        loc["city"] = city
    subdivisions = entry.get("subdivisions")
    first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
    if isinstance(first, dict) and first.get("iso_code"):
        loc["region_code"] = str(first["iso_code"])
    where = entry.get("location")
    if isinstance(where, dict):
        lat, lon = _number(where.get("latitude")), _number(where.get("longitude"))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            loc["latitude"], loc["longitude"] = lat, lon
    out: dict[str, Any] = {}
    if loc:
        out["location"] = loc
    asn = entry.get("autonomous_system_number")
    if isinstance(asn, int) and not isinstance(asn, bool) and asn >= 0:
        out["asn"] = f"AS{asn}"
    org = (entry.get("autonomous_system_organization") or entry.get("organization")
           or entry.get("isp"))
    if org:
        out["org"] = str(org)
    if entry.get("isp"):
        out["isp"] = str(entry["isp"])
    return out


class GeoIP:
    """Look addresses up in one or more MMDB files. Thread-safe (the reader is)."""

    def __init__(self, *paths: str | os.PathLike[str]) -> None:
        if not paths:
            raise ValueError("GeoIP needs at least one .mmdb file")
        self.paths = [str(p) for p in paths]
        self._readers = [maxminddb.open_database(p) for p in self.paths]
        self.lookup = lru_cache(maxsize=CACHE_SIZE)(self._lookup)

    @classmethod
    def open(cls, paths: str | Sequence[str] | None) -> GeoIP | None:
        if not paths:
            return None
        return cls(*([paths] if isinstance(paths, str | os.PathLike) else paths))

    def metadata(self) -> list[dict[str, Any]]:
        return [
            {"path": p, "database_type": r.metadata().database_type,
             "build_epoch": r.metadata().build_epoch}
            for p, r in zip(self.paths, self._readers, strict=True)
        ]

    def _lookup(self, ip: str) -> dict[str, Any] | None:
        """``{location: {...}, asn: "AS123", org: ...}`` or None when nobody knows."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        merged: dict[str, Any] = {}
        for reader in self._readers:
            try:
                entry = reader.get(addr)
            except ValueError:  # an IPv6 address in an IPv4-only database
                continue
            for key, value in _from_entry(entry).items():
                if key == "location":
                    loc = merged.setdefault("location", {})
                    for k, v in value.items():
                        loc.setdefault(k, v)
                else:
                    merged.setdefault(key, value)
        if not merged:
            return None
        if "location" in merged:
            merged["location"] = {k: merged["location"].get(k) for k in LOCATION_KEYS}
        return merged

    def close(self) -> None:
        for reader in self._readers:
            reader.close()


def enrich_record(record: dict[str, Any], geoip: GeoIP | None) -> dict[str, Any]:
    """Fill ``location``, ``asn``, ``org`` (and ``isp``) where the record lacks them.

    Mutates and returns ``record``; what the record already carries always wins.
    """
    if geoip is None:
        return record
    if record.get("location") and record.get("asn") and record.get("org"):
        return record
    found = geoip.lookup(str(record.get("ip_str", "")))
    if not found:
        return record
    for key, value in found.items():
        if not record.get(key):
            record[key] = dict(value) if isinstance(value, dict) else value
    return record
