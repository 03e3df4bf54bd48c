"""Map points: the record's location first, then the GeoIP database; bad values dropped."""

from __future__ import annotations

from typing import Any

from netatlas.web._geo import enrich, points


class Table:
    def lookup(self, ip: str) -> dict[str, Any] | None:
        if ip == "127.20.0.2":
            return {"location": {"latitude": 35.68, "longitude": 139.69, "city": "Tokyo",
                                 "country_name": "Japan"}, "org": "Sakura"}
        if ip == "127.20.0.5":
            raise ValueError("corrupt database entry")
        return None


def test_points_group_hosts_by_place() -> None:
    berlin = {"latitude": 52.52, "longitude": 13.4, "city": "Berlin", "country_name": "Germany"}
    records = [
        {"ip_str": "127.20.0.1", "location": berlin},
        {"ip_str": "127.20.0.1", "location": berlin},  # same host, another port
        {"ip_str": "127.20.0.3", "location": berlin},
        {"ip_str": "127.20.0.2"},  # only the database knows
        {"ip_str": "127.20.0.4", "location": {"latitude": "nan", "longitude": 1}},
        {"ip_str": "127.20.0.6", "location": {"latitude": 95, "longitude": 1}},
        {"ip_str": "127.20.0.5"},
        {"ip_str": "127.20.0.7", "location": {"country_name": "Chile"}},  # no coordinates
    ]
    out = points(records, Table())
    assert [(p["city"], p["hosts"]) for p in out["points"]] == [("Berlin", 2), ("Tokyo", 1)]
    assert out["points"][1]["orgs"] == ["Sakura"]
    assert out["stats"] == {"records": 8, "hosts": 7, "located": 3, "truncated": False}
    assert out["countries"] == [{"name": "Germany", "hosts": 2}, {"name": "Chile", "hosts": 1},
                                {"name": "Japan", "hosts": 1}]
    assert points(records, None)["stats"]["located"] == 2


def test_enrich_fills_only_what_is_missing() -> None:
    rec = {"ip_str": "127.20.0.2", "org": "Own Org"}
    out = enrich(rec, Table())
    assert out["org"] == "Own Org" and out["location"]["city"] == "Tokyo"
    assert "location" not in rec  # the stored record is not touched
    assert enrich(rec, None) is rec
    assert enrich({"ip_str": "127.20.0.5"}, Table()) == {"ip_str": "127.20.0.5"}
