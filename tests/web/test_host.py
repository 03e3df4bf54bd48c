"""The host page model: latest service per port, and what changed between observations."""

from __future__ import annotations

from netatlas.web._host import diff, flatten, services, timeline


def rec(port: int, ts: str, scan: str, **extra: object) -> dict:
    return {"ip_str": "127.20.1.1", "port": port, "transport": "tcp", "timestamp": ts,
            "scan_id": scan, "service": "http", "data": "HTTP/1.1 200 OK\r\nDate: " + ts,
            **extra}


def test_flatten_and_diff_ignore_volatile_fields() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]"}
    old = rec(80, "2026-11-01T00:00:00", "s1", product="nginx",
              http={"title": "a", "headers": {"Date": "x"}})
    new = rec(80, "2026-11-02T00:00:00", "s2", product="nginx",
              http={"title": "b", "headers": {"Date": "y"}})
    changes = diff(old, new)
    assert [(c.path, c.old, c.new) for c in changes] == [("http.title", "a", "b")]


def test_timeline_new_changed_unchanged() -> None:
    records = [  # newest first, as store.host returns them
        rec(80, "2026-11-03T00:00:00", "s3", product="nginx", version="1.22"),
        rec(22, "2026-11-03T00:00:01", "s3", product="OpenSSH"),
        rec(80, "2026-11-02T00:00:00", "s2", product="nginx", version="1.22"),
        rec(80, "2026-11-01T00:00:00", "s1", product="nginx", version="1.18"),
    ]
    moments = timeline(list(reversed(sorted(records, key=lambda r: r["timestamp"]))))
    assert [m.scan_id for m in moments] == ["s3", "s2", "s1"]
    kinds = [[(e.key, e.kind) for e in m.events] for m in moments]
    assert kinds == [[("80/tcp", "unchanged"), ("22/tcp", "new")],
                     [("80/tcp", "changed")], [("80/tcp", "new")]]
    change = moments[1].events[0].changes
    assert [(c.path, c.old, c.new) for c in change] == [("version", "1.18", "1.22")]


def test_services_latest_per_port() -> None:
    records = [
        rec(80, "2026-11-03T00:00:00", "s3", product="new"),
        rec(80, "2026-11-01T00:00:00", "s1", product="old"),
        rec(22, "2026-11-02T00:00:00", "s2", ssh={"fingerprint_sha256": "SHA256:x"}),
    ]
    out = services(records)
    assert [s["key"] for s in out] == ["80/tcp", "22/tcp"]
    assert out[0]["card"]["product"] == "new"
    assert "SHA256:x" in out[1]["ssh"] and out[1]["http"] == ""
