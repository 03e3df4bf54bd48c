"""Map points: hosts grouped by location.

A host's location is the record's own ``location`` section (written by the enrich
stage) or, failing that, what the server's GeoIP database says about the address.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

MAX_RECORDS = 20_000
SAMPLE_IPS = 8


class GeoIP(Protocol):
    def lookup(self, ip: str) -> dict[str, Any] | None: ...


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # NaN is not a place


def host_location(record: dict[str, Any], geoip: GeoIP | None) -> dict[str, Any] | None:
    loc = record.get("location")
    org = record.get("org")
    if not isinstance(loc, dict) and geoip:
        try:
            found = geoip.lookup(str(record.get("ip_str", "")))
        except Exception:  # a bad database entry must not take the page down
            found = None
        if found:
            loc = found.get("location")
            org = org or found.get("org")
    if not isinstance(loc, dict):
        return None
    lat, lon = _number(loc.get("latitude")), _number(loc.get("longitude"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None  # a country without coordinates still counts by country
    return {
        "lat": lat,
        "lon": lon,
        "city": str(loc.get("city") or ""),
        "country": str(loc.get("country_name") or loc.get("country_code") or ""),
        "org": str(org or ""),
    }


def enrich(record: dict[str, Any], geoip: GeoIP | None) -> dict[str, Any]:
    """Fill ``location``/``asn``/``org`` from GeoIP where the record lacks them (for
    display; what the record carries wins)."""
    if geoip is None or all(record.get(k) for k in ("location", "asn", "org")):
        return record
    try:
        found = geoip.lookup(str(record.get("ip_str", "")))
    except Exception:
        found = None
    if found:
        record = dict(record)
        for key in ("location", "asn", "org"):
            if not record.get(key) and found.get(key):
                record[key] = found[key]
    return record


def points(records: Iterable[dict[str, Any]], geoip: GeoIP | None) -> dict[str, Any]:
    by_host: dict[str, dict[str, Any] | None] = {}
    seen = 0
    truncated = False
    for rec in records:
        if seen >= MAX_RECORDS:
            truncated = True
            break
        seen += 1
        ip = str(rec.get("ip_str", ""))
        current = by_host.get(ip)
        if current is None or current["lat"] is None:  # a place with coordinates wins
            found = host_location(rec, geoip)
            if found is not None and (current is None or found["lat"] is not None):
                current = found
            by_host[ip] = current
    places: dict[tuple[float, float], dict[str, Any]] = {}
    countries: dict[str, int] = {}
    for ip, loc in sorted(by_host.items()):
        if loc is None:
            continue
        if loc["country"]:
            countries[loc["country"]] = countries.get(loc["country"], 0) + 1
        if loc["lat"] is None:
            continue
        key = (round(loc["lat"], 2), round(loc["lon"], 2))
        place = places.setdefault(key, {
            "lat": key[0], "lon": key[1], "city": loc["city"], "country": loc["country"],
            "hosts": 0, "ips": [], "orgs": [],
        })
        place["hosts"] += 1
        if len(place["ips"]) < SAMPLE_IPS:
            place["ips"].append(ip)
        if loc["org"] and loc["org"] not in place["orgs"] and len(place["orgs"]) < 4:
            place["orgs"].append(loc["org"])
    located = sum(p["hosts"] for p in places.values())
    return {
        "points": sorted(places.values(), key=lambda p: (-p["hosts"], p["country"], p["city"])),
        "countries": [
            {"name": k, "hosts": v}
            for k, v in sorted(countries.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "stats": {
            "records": seen,
            "hosts": len(by_host),
            "located": located,
            "truncated": truncated,
        },
    }
