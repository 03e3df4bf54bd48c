"""The store contract, on both backends (the conformance suite): history kept, latest
moves only forward, hostile bytes round-trip, cursors page without gaps, keys and the
CVE feed live in the store, committed records survive a killed writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from netatlas.model import Finding, Observation, Scan
from netatlas.store import CursorError, CveEntry, CveRange, Store, open_store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def obs(ip: str, port: int, when: datetime, product: str | None = None,
        data: bytes = b"", scan: str = "s1", **sections: dict) -> Observation:
    return Observation(ip=ip, port=port, transport="tcp", timestamp=when, scan_id=scan,
                       service="http", product=product, data=data, sections=dict(sections))


def test_history_and_latest(store: Store) -> None:
    store.add(obs("127.20.0.2", 80, T0, "nginx"))
    store.add(obs("127.20.0.2", 80, T0 + timedelta(days=1), "Apache httpd"))
    # an older observation arriving late must not replace the newer one in `latest`
    store.add(obs("127.20.0.2", 80, T0 - timedelta(days=1), "lighttpd"))
    store.flush()
    assert [r["product"] for r in store.search("")] == ["Apache httpd"]
    assert store.count("product:nginx") == 0
    history = store.host("127.20.0.2")
    assert [r["product"] for r in history] == ["Apache httpd", "nginx", "lighttpd"]
    assert [r["product"] for r in store.host("127.20.0.2", history=False)] == ["Apache httpd"]


def test_exactly_one_latest_row_per_endpoint(store: Store) -> None:
    for day in (0, 2, 1, 3, -1):  # out of order on purpose, in one batch and across two
        store.add(obs("127.20.0.2", 80, T0 + timedelta(days=day), f"p{day}"))
        if day == 1:
            store.flush()
    store.add(obs("127.20.0.3", 80, T0, "nginx"))
    store.flush()
    assert sorted((r["ip_str"], r["product"]) for r in store.search("")) == [
        ("127.20.0.2", "p3"), ("127.20.0.3", "nginx")]
    assert store.count("") == 2 and len(store.host("127.20.0.2")) == 5


def test_the_same_observation_twice_is_stored_once(store: Store) -> None:
    store.add(obs("127.20.0.2", 80, T0, "nginx"))
    store.add(obs("127.20.0.2", 80, T0, "nginx"))
    store.flush()
    store.add(obs("127.20.0.2", 80, T0, "nginx"))
    store.flush()
    assert len(store.host("127.20.0.2")) == 1


def test_record_round_trips_exactly(store: Store) -> None:
    o = Observation(ip="::1", port=443, transport="tcp", timestamp=T0, scan_id="s9",
                    service="https", product="nginx", version="1.22.1",
                    cpe=["cpe:/a:f5:nginx:1.22.1"], data=b"HTTP/1.1 200 OK\r\n\xff\x00",
                    hostnames=["lab.internal"], tags=["web"], info="i", os="Linux",
                    risks=[Finding("tls-self-signed", "low", "Self-signed", "cn=x")],
                    vulns={"CVE-2023-44487": {"cvss": 7.5, "verified": False}},
                    sections={"http": {"title": "T", "status": 200, "headers": {"a": "b"}},
                              "ssl": {"cert": {"subject": {"CN": "x"}}}},
                    asn="AS64500", org="Lab")
    store.add(o)
    store.flush()
    expected = json.loads(json.dumps(o.to_record()))
    (got,) = store.search("")
    assert got == expected and list(got) == list(expected)  # same keys, same order
    assert store.host("::1") == [expected]
    assert list(store.iter_search("port:443")) == [expected]
    [(_, back)] = list(store.export_all())
    assert back.data == o.data and back.to_record() == o.to_record()


def test_hostile_bytes_round_trip(store: Store) -> None:
    raw = b"\x00\xff<script>alert(1)</script>\r\n\xc3\x28 ok \xe2\x82\xac" * 50
    store.add(obs("127.20.0.9", 9999, T0, data=raw))
    store.add(obs("127.20.0.10", 9999, T0, data=raw))  # same banner: stored once
    store.flush()
    rec = store.search("ip:127.20.0.9")[0]
    assert "\\x00" in rec["data"] and "\\xff" in rec["data"] and "€" in rec["data"]
    assert {o.data for _, o in store.export_all()} == {raw}


def test_full_text_and_facets(store: Store) -> None:
    store.add(obs("127.20.0.2", 80, T0, "nginx", b"HTTP/1.1 200 OK\r\nServer: nginx\r\n",
                  http={"title": "Welcome to nginx!", "status": 200}))
    store.add(obs("127.20.0.3", 8080, T0, "Jetty", b"HTTP/1.1 404\r\n",
                  http={"title": "Not here", "status": 404}))
    store.flush()
    assert {r["ip_str"] for r in store.search('"welcome"')} == {"127.20.0.2"}
    assert {r["ip_str"] for r in store.search("-nginx")} == {"127.20.0.3"}
    facets = store.facets("", ["port", "product"])
    assert {(f.value, f.count) for f in facets["port"]} == {(80, 1), (8080, 1)}


def test_facets_group_case_insensitively(store: Store) -> None:
    for i, name in enumerate(["nginx", "Nginx", "NGINX", "Apache"]):
        store.add(obs(f"127.20.0.{i + 1}", 80, T0, name))
    store.flush()
    (top, second) = store.facets("", ["product"])["product"]
    assert (top.value, top.count) == ("NGINX", 3)  # the smallest spelling, bytewise
    assert (second.value, second.count) == ("Apache", 1)


def test_cursor_pages_cover_everything_once(store: Store) -> None:
    for i in range(57):  # some share a timestamp: the id breaks ties
        store.add(obs(f"127.20.1.{i + 1}", 80, T0 + timedelta(seconds=i // 3), "nginx"))
    store.add(obs("127.20.2.1", 22, T0, "OpenSSH"))
    store.flush()
    seen: list[str] = []
    page = store.page("product:nginx", limit=10)
    while True:
        seen += [r["ip_str"] for r in page.records]
        if page.next is None:
            break
        page = store.page("product:nginx", limit=10, after=page.next)
    assert len(seen) == 57 == len(set(seen))
    assert seen == [r["ip_str"] for r in store.search("product:nginx", limit=100)]
    with pytest.raises(CursorError, match="another query"):
        store.page("port:22", after=store.page("product:nginx", limit=1).next)
    with pytest.raises(CursorError):
        store.page("product:nginx", after="garbage!")


def test_scans_are_kept(store: Store) -> None:
    scan = Scan(id="abc", started=T0, args={"targets": ["127.20.0.0/24"]}, total=10)
    store.begin_scan(scan)
    scan.done, scan.status, scan.finished = 10, "finished", T0 + timedelta(minutes=1)
    store.update_scan(scan)
    store.flush()
    got = store.get_scan("abc")
    assert got is not None and (got.done, got.status, got.args) == (10, "finished",
                                                                    scan.args)
    assert got.finished == scan.finished and [s.id for s in store.scans()] == ["abc"]
    assert store.get_scan("nope") is None


def test_api_keys_are_stored_hashed(store: Store) -> None:
    secret, key = store.create_key("scan", "x", rate=2.0, burst=4)
    rows = store.key_rows()
    assert [r.key for r in rows] == [key] and secret not in str(rows)
    assert store.verify_key(secret) == key and store.verify_key(secret + "x") is None
    assert store.verify_key("") is None and store.verify_key("a" * 300) is None
    assert store.list_keys() == [key]
    assert store.revoke_key(key.id) and not store.revoke_key(key.id)
    assert store.verify_key(secret) is None
    with pytest.raises(ValueError, match="role"):
        store.create_key("root")


def test_cve_feed(store: Store) -> None:
    rng = CveRange("a", "openbsd", "openssh", "*", None, None, None, "9.3p2",
                   "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*")
    entry = CveEntry("CVE-2023-38408", 9.8, "critical", "agent", "2023-07-20", None, [rng])
    assert store.cve_import([entry]) == 1
    assert store.cve_import([entry]) == 1  # replaced, not doubled
    assert store.cve_count() == 1
    (cand,) = store.cve_candidates("a", "openssh", ("openbsd",))
    assert (cand.cve_id, cand.cvss, cand.range) == ("CVE-2023-38408", 9.8, rng)
    assert store.cve_candidates("a", "openssh", ("other",)) == []
    assert list(store.cve_entries()) == [entry]


def test_schema_is_current_and_meta(store: Store) -> None:
    assert store.schema_version() >= 1
    store.meta_set("k", "v")
    assert store.meta_get("k") == "v" and store.meta_get("missing") is None
    assert store.disk_bytes() > 0


def test_query_errors_are_the_same(store: Store) -> None:
    from netatlas.query import QuerySyntaxError

    with pytest.raises(QuerySyntaxError) as err:
        store.search("port:>")
    assert err.value.column == 7


def test_committed_records_survive_a_kill(store_url: str) -> None:
    """kill -9 of a writer mid-ingest: what was flushed is there, no half batch is
    visible, and writing the rest again completes the set with nothing doubled."""
    code = textwrap.dedent(f"""
        import sys, time
        from datetime import UTC, datetime, timedelta
        from netatlas.model import Observation
        from netatlas.store import open_store
        T0 = datetime(2026, 11, 1, tzinfo=UTC)
        s = open_store({store_url!r})
        def o(i):
            return Observation(ip="127.20.1.1", port=i + 1, transport="tcp",
                               timestamp=T0 + timedelta(seconds=i), scan_id="k")
        s.add_many(o(i) for i in range(500))
        s.flush()
        print("flushed", flush=True)
        s.add_many(o(i) for i in range(500, 50_000))  # killed somewhere in here
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "flushed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    s = open_store(store_url)
    try:
        n = s.count("")
        assert 500 <= n <= 50_000
        ports = sorted(r["port"] for r in s.iter_search(""))
        assert ports == list(range(1, n + 1))  # a prefix: no gap, no half batch
        # the rerun: every observation sent again; the stored ones are not doubled
        t0 = datetime(2026, 11, 1, tzinfo=UTC)
        s.add_many(Observation(ip="127.20.1.1", port=i + 1, transport="tcp",
                               timestamp=t0 + timedelta(seconds=i), scan_id="k")
                   for i in range(50_000))
        s.flush()
        assert s.count("") == 50_000
        assert sum(1 for _ in s.export_all()) == 50_000
    finally:
        s.close()
