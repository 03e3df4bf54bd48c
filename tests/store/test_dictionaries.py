"""Banners and history records packed against zstd dictionaries trained on the store's
own values (store/dictpack.py), on both backends: everything reads back exactly, the
dictionaries are kept with the data (a rolled-back batch takes its own with it, a second
writer takes the first one's), and ``compact`` packs what was stored before them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import zstandard

from netatlas.model import Observation, Scan
from netatlas.store import Store, dictpack, open_store
from netatlas.store.dictpack import ZSTD, Dictionaries, DictionaryMissing
from netatlas.store.rows import unpack_blob
from netatlas.store.sqlite import totals

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ENDPOINTS = 1_500  # more than dictpack.TRAIN_SAMPLES values of each kind
SERVERS = ("nginx/1.24.0", "Apache/2.4.62 (Debian)", "lighttpd/1.4.69", "Caddy")


def _banner(i: int, week: int) -> bytes:
    if i % 5 == 0:
        return f"SSH-2.0-OpenSSH_9.{i % 4}p1 Debian-{week}\r\n".encode()
    day = (T0 + timedelta(weeks=week, seconds=i)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return (f"HTTP/1.1 {(200, 301, 404)[i % 3]} OK\r\nServer: {SERVERS[i % 4]}\r\n"
            f"Date: {day}\r\nContent-Length: {i * 7 % 5000}\r\n"
            f"Set-Cookie: sid={i * 7919 + week:x}; Path=/; HttpOnly\r\n\r\n").encode()


def _observations(week: int, start: int = 0) -> Iterator[Observation]:
    for i in range(start, start + ENDPOINTS):
        ssh = i % 5 == 0
        yield Observation(
            ip=f"127.21.{i // 250}.{i % 250 + 1}", port=22 if ssh else 80, transport="tcp",
            timestamp=T0 + timedelta(weeks=week, seconds=i), scan_id=f"w{week}",
            service="ssh" if ssh else "http", product="OpenSSH" if ssh else SERVERS[i % 4],
            version=f"9.{i % 4}" if ssh else None, data=_banner(i, week),
            tags=["cloud"] if i % 2 else [],
            sections={} if ssh else {"http": {"title": f"page {i % 40} of {week}",
                                              "status": (200, 301, 404)[i % 3]}})


def _fill(store: Store, weeks: int = 3) -> list[Observation]:
    sent = []
    for week in range(weeks):  # a batch per rescan: every earlier row becomes history
        store.begin_scan(Scan(id=f"w{week}", started=T0, args={}))
        batch = list(_observations(week))
        store.add_many(batch)
        store.flush()
        sent += batch
    return sent


def _kinds(url: str) -> list[str]:
    """The dictionaries a backend trains: SQLite packs its latest rows' facet pairs too."""
    return ["banner", "record"] if url.startswith("postgresql") else [
        "banner", "facets", "record"]


def _key(obs: Observation) -> str:
    return repr((obs.ip, obs.port, obs.timestamp, obs.data, obs.product, obs.version,
                 obs.scan_id, sorted(obs.tags), obs.sections))


def _stored_kinds(url: str) -> dict[str, Any]:
    """What the store holds, as its own SQL sees it: the dictionaries' kinds, the kind
    bytes of the history records and of the banners."""
    if url.startswith("postgresql"):
        with psycopg.connect(url) as conn:
            return {
                "dicts": sorted(r[0] for r in conn.execute("SELECT kind FROM zdicts")),
                "history": dict(conn.execute(
                    "SELECT get_byte(doc, 0), count(*) FROM observations x WHERE NOT"
                    " EXISTS (SELECT 1 FROM latest l WHERE l.id = x.id) GROUP BY 1")),
                "banners": dict(conn.execute(
                    "SELECT get_byte(data, 0), count(*) FROM blobs GROUP BY 1")),
            }
    db = sqlite3.connect(url)
    try:
        return {
            "dicts": sorted(r[0] for r in db.execute("SELECT kind FROM zdicts")),
            "history": {2 if t == "blob" else 0: n for t, n in db.execute(
                "SELECT typeof(record), count(*) FROM observations WHERE is_latest = 0"
                " GROUP BY 1")},
            "banners": dict(db.execute("SELECT instr(X'000102', substr(data, 1, 1)) - 1,"
                                       " count(*) FROM blobs GROUP BY 1")),
        }
    finally:
        db.close()


def test_history_and_banners_are_packed_and_read_back_exactly(store_url: str) -> None:
    store = open_store(store_url)
    try:
        sent = _fill(store)
        kinds = _stored_kinds(store_url)
        assert kinds["dicts"] == _kinds(store_url)
        # trained within the first batch: every row of the later ones is packed
        assert kinds["history"].get(2, 0) >= ENDPOINTS
        assert kinds["banners"].get(2, 0) >= 2 * ENDPOINTS - dictpack.TRAIN_MAX
        back = sorted(_key(o) for _, o in store.export_all())
        assert back == sorted(map(_key, sent))
        history = store.host("127.21.1.7")
        assert [h["data"] for h in history] == [
            _banner(256, w).decode() for w in (2, 1, 0)]
        assert store.count("tag:cloud") == ENDPOINTS // 2
        assert store.search('"page 7 of 2"', limit=1)[0]["http"]["title"] == "page 7 of 2"
    finally:
        store.close()
    reopened = open_store(store_url)  # a new process: the dictionaries come from the store
    try:
        assert len(reopened.host("127.21.1.7")) == 3
        assert sum(1 for _ in reopened.export_all()) == len(sent)
    finally:
        reopened.close()


def test_a_second_writer_takes_the_dictionary_the_first_trained(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    try:
        first.add_many(_observations(0))
        first.flush()
        second.add_many(_observations(1, start=ENDPOINTS))
        second.flush()
        assert _stored_kinds(store_url)["dicts"] == _kinds(store_url)  # one each
        for store in (first, second):
            assert sum(1 for _ in store.export_all()) == 2 * ENDPOINTS
    finally:
        first.close()
        second.close()


def test_a_batch_that_rolls_back_takes_its_dictionary_with_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(tmp_path / "t.db")
    store = open_store(url)
    real = totals.apply
    failed = []

    def fail_where_trained(conn: sqlite3.Connection, *args: Any) -> None:
        # the batch that trained the dictionaries fails after packing with them
        if not failed and conn.execute("SELECT count(*) FROM zdicts").fetchone()[0]:
            failed.append(True)
            raise sqlite3.OperationalError("disk I/O error (injected)")
        real(conn, *args)

    monkeypatch.setattr(totals, "apply", fail_where_trained)
    try:
        store.add_many(_observations(0))
        with pytest.raises(RuntimeError, match="injected"):
            store.flush()
        assert failed
        sent = list(_observations(1))
        store.add_many(sent)  # trained again (or already, after the failed batch), kept
        store.flush()
        assert _stored_kinds(url)["dicts"] == _kinds(url)
        # nothing stored names a dictionary the store lacks: every row reads back
        back = {_key(o) for _, o in store.export_all()}
        assert set(map(_key, sent)) <= back
        assert back <= set(map(_key, sent)) | set(map(_key, _observations(0)))
    finally:
        store.close()


def test_compact_packs_what_was_stored_before_the_dictionaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(tmp_path / "t.db")
    monkeypatch.setattr(dictpack, "TRAIN_SAMPLES", 10**9)  # as a version without them
    store = open_store(url)
    try:
        _fill(store)
        kinds = _stored_kinds(url)
        assert kinds["dicts"] == [] and kinds["history"] == {0: 2 * ENDPOINTS}
        assert 2 not in kinds["banners"]
        before = sorted(_key(o) for _, o in store.export_all())
        monkeypatch.undo()
        store.compact()
        kinds = _stored_kinds(url)
        assert kinds["dicts"] == _kinds(url)
        # every HTTP response and its record packed; a short SSH line or record may stay
        # as it was (packing it saves nothing)
        assert kinds["history"][2] >= 2 * ENDPOINTS * 4 // 5
        assert 1 not in kinds["banners"] and kinds["banners"][2] >= 3 * ENDPOINTS * 4 // 5
        assert sorted(_key(o) for _, o in store.export_all()) == before
        # and full text indexes the latest rows alone: no search reads history
        db = sqlite3.connect(url)
        assert db.execute("SELECT count(*) FROM obs_fts_docsize").fetchone() == (ENDPOINTS,)
        db.close()
        assert [r["ip_str"] for r in store.search('"page 7 of 2"', limit=100)] == [
            f"127.21.{i // 250}.{i % 250 + 1}" for i in range(ENDPOINTS - 1, -1, -1)
            if i % 40 == 7 and i % 5][:100]
    finally:
        store.close()


def _dicts() -> tuple[Dictionaries, bytes]:
    samples = [_banner(i, 0) for i in range(dictpack.TRAIN_SAMPLES)]
    d = Dictionaries(lambda _: None)
    assert d.collect("banner", samples)
    data = d.train("banner", dictpack.FIRST_ID + 1)
    assert data is not None
    d.load(dictpack.FIRST_ID + 1, "banner", data)
    return d, data


def test_packed_values_are_small_and_hostile_ones_fail_cleanly() -> None:
    d, data = _dicts()
    banner = _banner(12_346, 3)
    packed = d.pack("banner", banner)
    assert packed is not None and packed[:1] == ZSTD and len(packed) < len(banner) // 2
    assert unpack_blob(packed, d) == banner
    with pytest.raises(ValueError, match="without the store's dictionaries"):
        unpack_blob(packed, None)
    # a reader that never saw the dictionary asks the store; one the store lacks fails
    assert unpack_blob(packed, Dictionaries(lambda i: data if i == dictpack.FIRST_ID + 1
                                            else None)) == banner
    with pytest.raises(DictionaryMissing):
        unpack_blob(packed, Dictionaries(lambda _: None))
    # a frame that claims a huge size is refused before anything is allocated
    bomb = zstandard.ZstdCompressor(write_content_size=True).compress(b"\0" * (65 << 20))
    with pytest.raises(ValueError, match="claims"):
        d.unpack(ZSTD + bomb)
    with pytest.raises(zstandard.ZstdError):
        d.unpack(ZSTD + b"\x28\xb5\x2f\xfd garbage")


def test_a_sample_zstd_refuses_is_not_taken_again_every_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    d = Dictionaries(lambda _: None)
    varied = [_banner(i, 0) for i in range(dictpack.TRAIN_MAX)]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise zstandard.ZstdError("cannot train dict: Src size is incorrect")

    monkeypatch.setattr(dictpack.zstandard, "train_dictionary", refuse)
    assert d.collect("banner", varied)
    assert d.train("banner", dictpack.FIRST_ID + 1) is None
    assert not d.trained("banner") and d.pack("banner", varied[0]) is None
    monkeypatch.undo()
    for _ in range(dictpack.TRAIN_BACKOFF // len(varied)):
        assert not d.collect("banner", varied)  # let by, not sampled
    assert d.collect("banner", varied) or d.collect("banner", varied)
    assert d.train("banner", dictpack.FIRST_ID + 1) is not None
