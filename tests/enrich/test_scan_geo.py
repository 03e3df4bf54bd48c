"""A scan with --geoip stores location, ASN and org, so search filters and facets see
them (not only records served later)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_scan_lab import jsonl, netatlas
from tests.enrich._mmdb import asn_db, city_db

pytestmark = pytest.mark.lab


def test_scan_with_geoip_is_searchable_by_place(lab: list[Any], tmp_path: Path) -> None:
    db = tmp_path / "geo.db"
    netatlas("scan", "127.20.0.2", "127.20.0.3", "-p", "22,80", "--exclude-ports", "2024",
             "--allow", "127.20.0.0/16", "--geoip", str(city_db(tmp_path)),
             "--geoip", str(asn_db(tmp_path)), "--json", db=db)
    recs = jsonl(netatlas("search", "country:AQ", "--json", db=db).stdout)
    assert {(r["ip_str"], r["port"]) for r in recs} == {("127.20.0.2", 80), ("127.20.0.3", 22)}
    rec = recs[0]
    assert rec["location"]["city"] == "Atlantis"
    assert rec["asn"] == "AS64500" and rec["org"] == "Example Lab Networks"
    stats = json.loads(netatlas("stats", "", "--facets", "country,org", "--json", db=db).stdout)
    assert stats["facets"]["country"] == [{"value": "AQ", "count": 2}]
    assert stats["facets"]["org"] == [{"value": "Example Lab Networks", "count": 2}]
    assert netatlas("search", "country:IS", "--json", db=db).stdout.strip() == ""
