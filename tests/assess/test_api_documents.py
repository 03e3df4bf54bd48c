"""Well-known API documents (grab's http.api) are evidence of an open control API even
when GET / answers 404, as etcd's does."""

from __future__ import annotations

from datetime import UTC, datetime

from netatlas.assess import assess
from netatlas.model import Observation


def _obs(http: dict) -> Observation:
    return Observation(ip="127.20.0.23", port=2379, transport="tcp",
                       timestamp=datetime(2026, 11, 1, tzinfo=UTC), scan_id="t",
                       service="http", product="etcd", sections={"http": http})


def test_etcd_version_document_is_an_open_store() -> None:
    found = assess(_obs({"status": 404, "api": {"version": '{"etcdserver":"3.4.23"}'}}))
    assert [f.id for f in found] == ["etcd-open"]
    assert "etcdserver" in found[0].evidence


def test_no_api_document_and_404_is_not_evidence() -> None:
    assert assess(_obs({"status": 404})) == []
