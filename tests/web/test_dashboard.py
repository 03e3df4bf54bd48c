"""Dashboard figures over a real SQLite store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from netatlas.query import QuerySyntaxError
from netatlas.store import open_store
from netatlas.web._dashboard import _days, facet_values, figures
from tests.web import synthetic


def test_days_fill_the_gaps() -> None:
    got = _days(Counter({"2026-11-01": 2, "2026-11-04": 1}))
    assert [(d["value"], d["count"]) for d in got] == [
        ("2026-11-01", 2), ("2026-11-02", 0), ("2026-11-03", 0), ("2026-11-04", 1)]
    assert _days(Counter()) == []


def test_figures(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d.db")
    try:
        for obs in synthetic.observations():
            store.add(obs)
        store.flush()
        data = figures(store, "")
        assert data["totals"] == {"services": 37, "hosts": 24, "risky": 9, "vulns": 0,
                                  "scans": 0}
        assert data["facets"]["port"][0] == {"value": 80, "count": 18, "approximate": False,
                                             "query": "port:80"}
        sev = {f["value"]: f["count"] for f in data["facets"]["severity"]}
        assert sev == {"high": 5, "low": 4}
        assert figures(store, "port:22")["totals"]["hosts"] == 8
        assert facet_values(store, "", "no-such-facet") == []
        with pytest.raises(QuerySyntaxError):
            figures(store, "port:>")
        with pytest.raises(QuerySyntaxError):
            facet_values(store, "port:>", "port")
    finally:
        store.close()
