"""The app object: the shared services contract and the web UI mounted behind keys."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from netatlas.api import Services, create_app
from tests.enrich._mmdb import city_db


def test_services_contract(db: Path, tmp_path: Path) -> None:
    app = create_app(str(db), allow=["127.20.0.0/16"], geoip=str(city_db(tmp_path)))
    s = app.state.services
    assert isinstance(s, Services)
    assert s.db == str(db) and s.allow == ["127.20.0.0/16"]
    assert s.store.count("port:22") == 1
    assert s.geoip is not None and s.geoip.lookup("127.20.0.1")["location"]["city"] == "Atlantis"
    s.close()


def test_malformed_allow_list_is_refused_at_start(db: Path) -> None:
    with pytest.raises(ValueError):
        create_app(str(db), allow=["not a range"])


async def test_web_ui_is_behind_keys(db: Path, keys: dict[str, str]) -> None:
    pytest.importorskip("netatlas.web")
    app = create_app(str(db))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        assert (await c.get("/search", params={"q": "port:80"})).status_code == 401
        r = await c.get("/search", params={"q": "port:80", "key": keys["read"]})
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "httponly" in r.headers["set-cookie"].lower()
        # the browser keeps the key as a cookie for the links it follows
        assert (await c.get("/host/127.20.0.2")).status_code == 200
    app.state.services.close()
