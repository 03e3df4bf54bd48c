"""Shaping stored records for the API: facet specs, Shodan's banner and host shapes,
minify and field selection. Pure functions over record dicts."""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from netatlas.interop import shodan_sections
from netatlas.store import FacetValue

MAX_FACETS = 10
MAX_FACET_SIZE = 1000
DEFAULT_FACET_SIZE = 10

SHODAN_LOCATION_KEYS = (
    "city", "region_code", "area_code", "longitude", "latitude", "country_code",
    "country_name", "postal_code", "dma_code",
)
# what a minified Shodan banner keeps: the endpoint and who/what/where, not the sections
MINIFIED = (
    "ip", "ip_str", "port", "transport", "timestamp", "hostnames", "domains", "org", "isp",
    "asn", "location", "os", "product", "version", "cpe", "cpe23", "data", "tags", "vulns",
    "hash", "_shodan",
)


class BadRequest(ValueError):
    pass


def parse_facets(spec: str | None) -> list[tuple[str, int]]:
    """``"port:5,product"`` -> [("port", 5), ("product", 10)]."""
    out: list[tuple[str, int]] = []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, size = item.partition(":")
        try:
            n = int(size) if size else DEFAULT_FACET_SIZE
        except ValueError:
            raise BadRequest(f"facet size must be a number: {item!r}") from None
        if not name or not 1 <= n <= MAX_FACET_SIZE:
            raise BadRequest(f"bad facet {item!r}: name:size with 1 <= size <= {MAX_FACET_SIZE}")
        out.append((name, n))
    if len(out) > MAX_FACETS:
        raise BadRequest(f"at most {MAX_FACETS} facets per request")
    return out


def facets_json(result: dict[str, list[FacetValue]]) -> dict[str, list[dict[str, Any]]]:
    return {k: [{"value": v.value, "count": v.count} for v in vs] for k, vs in result.items()}


def _domain(name: str) -> str:
    parts = name.rstrip(".").split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else name


def shodan_banner(rec: dict[str, Any]) -> dict[str, Any]:
    """A netatlas record with the extra fields a Shodan banner carries."""
    out = dict(rec)
    try:
        addr = ipaddress.ip_address(rec["ip_str"])
        if addr.version == 4:
            out["ip"] = int(addr)
        else:
            out["ipv6"] = rec["ip_str"]
    except ValueError:
        pass
    hostnames = [str(h) for h in rec.get("hostnames") or []]
    out.setdefault("domains", sorted({_domain(h) for h in hostnames}))
    found = rec.get("location")
    loc: dict[str, Any] = found if isinstance(found, dict) else {}
    out["location"] = {k: loc.get(k) for k in SHODAN_LOCATION_KEYS}
    for key in ("org", "isp", "asn", "os"):
        out.setdefault(key, None)
    data = str(rec.get("data") or "")
    # Shodan's banner hash is a 32-bit hash of the data; ours is stable but not mmh3-equal
    out["hash"] = int.from_bytes(hashlib.sha256(data.encode()).digest()[:4], "big", signed=True)
    out["_shodan"] = {"id": f"{rec.get('scan_id', '')}:{rec['ip_str']}:{rec['port']}",
                      "module": rec.get("service") or "", "crawler": "netatlas",
                      "ptr": False, "options": {}}
    shodan_sections.to_shodan(out)  # elastic, cassandra, mongodb, ... in Shodan's shapes
    return out


def select_fields(rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Keep only the (dotted) fields asked for, nested as in the record."""
    out: dict[str, Any] = {}
    for path in fields:
        parts = path.split(".")
        cur: Any = rec
        for p in parts:
            cur = cur.get(p) if isinstance(cur, dict) else None
        if cur is None:
            continue
        dst = out
        for p in parts[:-1]:
            dst = dst.setdefault(p, {})
            if not isinstance(dst, dict):
                break
        else:
            dst[parts[-1]] = cur
    return out


def minify(banner: dict[str, Any]) -> dict[str, Any]:
    return {k: banner[k] for k in MINIFIED if k in banner}


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def host_summary(ip: str, latest: list[dict[str, Any]], history: list[dict[str, Any]],
                 shodan: bool) -> dict[str, Any]:
    """One host: ports, names, tags, vulns, geo, and its banners."""
    banners = history if history else latest
    hostnames = sorted({h for r in banners for h in r.get("hostnames") or []})
    tags = sorted({t for r in latest for t in r.get("tags") or []})
    vulns = sorted({v for r in latest for v in (r.get("vulns") or {})})
    newest = max(latest, key=lambda r: r["timestamp"]) if latest else banners[0]
    found = newest.get("location")
    loc: dict[str, Any] = found if isinstance(found, dict) else {}
    out: dict[str, Any] = {
        "ip_str": ip,
        "ports": sorted({int(r["port"]) for r in latest}),
        "hostnames": hostnames,
        "domains": sorted({_domain(h) for h in hostnames}),
        "tags": tags,
        "vulns": vulns,
        "last_update": max(r["timestamp"] for r in banners),
        "org": newest.get("org"),
        "isp": newest.get("isp"),
        "asn": newest.get("asn"),
        "os": next((r.get("os") for r in latest if r.get("os")), None),
    }
    if shodan:
        addr = ipaddress.ip_address(ip)
        if addr.version == 4:
            out["ip"] = int(addr)
        for key in SHODAN_LOCATION_KEYS:
            out[key] = loc.get(key)
        out["data"] = [shodan_banner(r) for r in banners]
    else:
        out["location"] = loc or None
        out["services"] = latest
        out["history"] = history
    return out
