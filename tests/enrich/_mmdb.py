"""Tiny MaxMind-format databases written with mmdb-writer, mapping loopback ranges to
made-up places (the writer accepts reserved ranges as they are)."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

PLACES = {
    "127.20.0.0/24": {
        "city": {"names": {"en": "Atlantis", "de": "Atlantis-Stadt"}},
        "country": {"iso_code": "AQ", "names": {"en": "Antarctica"}},
        "subdivisions": [{"iso_code": "AT1", "names": {"en": "Sunken Shelf"}}],
        "location": {"latitude": -71.25, "longitude": 12.5},
    },
    "127.20.1.0/24": {
        "country": {"iso_code": "IS", "names": {"en": "Iceland"}},
        "location": {"latitude": 64.1, "longitude": -21.9},
    },
}
ASNS = {
    "127.20.0.0/16": {"autonomous_system_number": 64500,
                      "autonomous_system_organization": "Example Lab Networks"},
}


def write(path: Path, entries: dict[str, dict], database_type: str) -> Path:
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type,
                   languages=["en"], description="netatlas test db")
    for cidr, data in entries.items():
        w.insert_network(IPSet([cidr]), data)
    w.to_db_file(str(path))
    return path


def city_db(tmp: Path) -> Path:
    return write(tmp / "city.mmdb", PLACES, "GeoLite2-City")


def asn_db(tmp: Path) -> Path:
    return write(tmp / "asn.mmdb", ASNS, "GeoLite2-ASN")
