"""The timeline page: events grouped by day, filtered by a query over their services,
everything a server sent escaped."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from netatlas.api import create_app
from netatlas.store import open_store
from netatlas.store.monitors import EventRow, MonitorRow, monitor_tables


def test_events_page(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    store = open_store(db)
    secret, _ = store.create_key("read")
    tables = monitor_tables(store)
    tables.put_monitor(MonitorRow("M1", "dmz", True, 0.0, {}))
    now = time.time()
    tables.record_run("M1", {}, None, [
        EventRow("M1", now, "appeared", "127.20.12.60", 80, "tcp", "s1",
                 {"summary": "new service: http (<script>x</script>)", "monitor": "dmz",
                  "triggers": ["new_service"]}),
        EventRow("M1", now, "disappeared", "127.20.12.61", 22, "tcp", "s1",
                 {"summary": "ssh gone", "monitor": "dmz"})], [], now)
    store.close()
    with TestClient(create_app(str(db))) as client:
        page = client.get("/events", params={"key": secret})
        assert page.status_code == 200
        html = page.text
        assert "What changed" in html and "127.20.12.60" in html and "ssh gone" in html
        assert "<script>x</script>" not in html and "&lt;script&gt;" in html
        narrowed = client.get("/events", params={"key": secret, "q": "port:22"}).text
        # no stored record matches: the query filters events by their services' records
        assert "127.20.12.60" not in narrowed
        bad = client.get("/events", params={"key": secret, "q": "port:>"})
        assert bad.status_code == 400
