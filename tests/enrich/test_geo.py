"""GeoIP over real MMDB files written by a real writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from netatlas.enrich import GeoIP, enrich_record
from tests.enrich._mmdb import asn_db, city_db, write


def test_city_and_asn_merge(tmp_path: Path) -> None:
    geo = GeoIP(city_db(tmp_path), asn_db(tmp_path))
    got = geo.lookup("127.20.0.9")
    assert got == {
        "location": {"country_code": "AQ", "country_name": "Antarctica", "city": "Atlantis",
                     "region_code": "AT1", "latitude": -71.25, "longitude": 12.5},
        "asn": "AS64500",
        "org": "Example Lab Networks",
    }
    # a country-level entry: no city, ASN from the second database
    other = geo.lookup("127.20.1.7")
    assert other is not None
    assert other["location"]["country_code"] == "IS" and other["location"]["city"] is None
    assert other["asn"] == "AS64500"
    # outside every network, and not an address at all
    assert geo.lookup("127.21.0.1") is None
    assert geo.lookup("::1") is None
    assert geo.lookup("not-an-ip") is None
    geo.close()


def test_enrich_keeps_what_the_record_has(tmp_path: Path) -> None:
    geo = GeoIP(city_db(tmp_path), asn_db(tmp_path))
    rec = {"ip_str": "127.20.0.5", "org": "Already Known"}
    enrich_record(rec, geo)
    assert rec["org"] == "Already Known"
    assert rec["asn"] == "AS64500" and rec["location"]["city"] == "Atlantis"
    bare = {"ip_str": "127.99.0.1"}
    assert enrich_record(bare, geo) == {"ip_str": "127.99.0.1"}
    assert enrich_record({"ip_str": "127.20.0.5"}, None) == {"ip_str": "127.20.0.5"}


def test_hostile_database_values_are_dropped(tmp_path: Path) -> None:
    # coordinates off the globe and a non-numeric ASN must not reach a map or a record
    path = write(tmp_path / "bad.mmdb", {"127.20.0.0/24": {
        "location": {"latitude": 500.0, "longitude": "east"},
        "country": {"iso_code": "ZZ"},
        "autonomous_system_number": "AS1; DROP",
    }}, "Weird")
    geo = GeoIP(path)
    got = geo.lookup("127.20.0.1")
    assert got == {"location": {"country_code": "ZZ", "country_name": None, "city": None,
                                "region_code": None, "latitude": None, "longitude": None}}


def test_needs_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        GeoIP()
    with pytest.raises(FileNotFoundError):
        GeoIP(tmp_path / "missing.mmdb")
    assert GeoIP.open(None) is None
