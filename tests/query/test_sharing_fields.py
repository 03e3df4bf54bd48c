"""The sharing sections are searchable: rsync modules, RPC programs, NFS exports and the
X server's answer, as the grabbers record them (tests/grab/test_rsync.py, test_portmap.py,
test_x11.py), on a SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from netatlas.model import Observation
from netatlas.store import Store, open_store

RECORDS: dict[str, dict[str, Any]] = {
    "rsync": {"rsync": {"version": "32.0", "modules": [
        {"name": "pub", "comment": "public", "auth_required": False},
        {"name": "private", "comment": "", "auth_required": True}]}},
    "nfs": {"portmap": {"programs": [], "program_names": ["mountd", "nfs", "portmapper"],
                        "exports": [{"dir": "/srv/share", "groups": ["*"], "everyone": True},
                                    {"dir": "/home", "groups": ["admin"], "everyone": False}]}},
    "rpc": {"portmap": {"programs": [], "program_names": ["portmapper"]}},
    "x-open": {"x11": {"status": "success", "vendor": "The X.Org Foundation"}},
    "x-shut": {"x11": {"status": "failed", "reason": "Authorization required"}},
}
PORTS = {name: 1000 + i for i, name in enumerate(RECORDS)}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(tmp_path / "s.db")
    for name, sections in RECORDS.items():
        st.add(Observation(ip="127.20.0.9", port=PORTS[name], transport="tcp",
                           timestamp=datetime(2026, 12, 1, tzinfo=UTC), scan_id="s",
                           service=name, sections=sections))
    st.flush()
    yield st
    st.close()


@pytest.mark.parametrize(("query", "want"), [
    ("rsync.module:pub", {"rsync"}),
    ("rsync.module:priv*", {"rsync"}),
    ("rsync.module:nope", set()),
    ("rpc.program:portmapper", {"nfs", "rpc"}),
    ("rpc.program:mountd", {"nfs"}),
    ("nfs.export:/home", {"nfs"}),
    ("nfs.export:/srv*", {"nfs"}),
    ('x11.vendor:"The X.Org Foundation"', {"x-open"}),
    ("x11.status:success", {"x-open"}),
    ("x11.status:failed", {"x-shut"}),
])
def test_search(store: Store, query: str, want: set[str]) -> None:
    got = {r["service"] for r in store.search(query, limit=100)}
    assert got == want
    assert store.count(query) == len(want)


def test_facets(store: Store) -> None:
    facets = store.facets("", ["rpc.program", "rsync.module"], size=10)
    assert {f.value: f.count for f in facets["rpc.program"]} == {
        "portmapper": 2, "mountd": 1, "nfs": 1}
    assert {f.value: f.count for f in facets["rsync.module"]} == {"pub": 1, "private": 1}
