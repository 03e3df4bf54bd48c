"""Bulk adds encode in worker processes (store/encoding.py): what comes back is what the
caller's thread would have encoded, in order; a failure surfaces at its observation; and
a store fed through them holds exactly what one fed row by row holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from netatlas.model import Observation
from netatlas.store import Store, open_store
from netatlas.store.encoding import BULK_MIN, CHUNK, Encoders, bulk
from netatlas.store.rows import ObsRow
from netatlas.store.sqlite.store import encode

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _observations(n: int, bad_at: int | None = None) -> Iterator[Observation]:
    for i in range(n):
        ip = "not-an-address" if i == bad_at else f"127.77.{i // 250}.{i % 250 + 1}"
        yield Observation(
            ip=ip, port=80 + i % 3, transport="tcp", timestamp=T0 + timedelta(seconds=i),
            scan_id="s1", service="http", product="nginx", version=f"1.{i % 30}.0",
            data=f"HTTP/1.1 200 OK\r\nServer: nginx\r\nX-N: {i}\r\n\r\n".encode(),
            sections={"http": {"title": f"page {i}", "status": 200}},
            tags=["cloud"] if i % 2 else [])


def test_workers_encode_in_order_exactly_as_the_caller_would() -> None:
    n = 3 * CHUNK + 17
    encoders: Encoders[ObsRow] = Encoders(encode, workers=2)
    try:
        got = list(encoders.map(_observations(n)))
        assert got == [encode(o) for o in _observations(n)]
        assert len(encoders._procs) == 2  # two workers shared the chunks
        # a second bulk add reuses the same workers
        pids = [p.pid for p in encoders._procs]
        assert list(encoders.map(_observations(CHUNK))) == [
            encode(o) for o in _observations(CHUNK)]
        assert [p.pid for p in encoders._procs] == pids
    finally:
        procs = list(encoders._procs)
        encoders.close()
    assert all(p.poll() is not None for p in procs)  # stopped, not left behind


def test_a_failure_surfaces_at_its_observation_after_the_rows_before_it() -> None:
    encoders: Encoders[ObsRow] = Encoders(encode, workers=1)
    got: list[ObsRow] = []
    try:
        with pytest.raises(ValueError, match="not-an-address"):
            for row in encoders.map(_observations(2 * CHUNK + 5, bad_at=CHUNK + 3)):
                got.append(row)
        assert [r.ip for r in got] == [o.ip for o in _observations(CHUNK + 3)]
        # and the next bulk add works (new workers: the old ones held stale chunks)
        assert len(list(encoders.map(_observations(CHUNK)))) == CHUNK
    finally:
        encoders.close()


def test_the_callers_own_failure_is_raised_to_the_caller() -> None:
    def broken() -> Iterator[Observation]:
        yield from _observations(CHUNK + 1)
        raise OSError("the input file went away")

    encoders: Encoders[ObsRow] = Encoders(encode, workers=1)
    got: list[ObsRow] = []
    try:
        with pytest.raises(OSError, match="went away"):
            for row in encoders.map(broken()):
                got.append(row)
        assert len(got) == CHUNK + 1  # all it gave before failing, the last part chunk too
    finally:
        encoders.close()


def test_few_observations_stay_in_the_caller() -> None:
    def never() -> Encoders[ObsRow]:
        raise AssertionError("no workers for a small add")

    rows = list(bulk(_observations(BULK_MIN - 1), encode, never))
    assert len(rows) == BULK_MIN - 1


def test_a_bulk_add_stores_what_adding_one_by_one_stores(store: Store, tmp_path: object) -> None:
    n = BULK_MIN + CHUNK + 3
    store.add_many(_observations(n))  # through the encoder processes
    store.flush()
    path = os.path.join(str(tmp_path), "one-by-one.db")
    single = open_store(path)
    try:
        for obs in _observations(n):
            single.add(obs)
        single.flush()
        assert store.count("") == single.count("") == n
        assert store.search("", limit=n) == single.search("", limit=n)
        assert store.facets("", ["port", "product", "tag"]) == single.facets(
            "", ["port", "product", "tag"])
    finally:
        single.close()


def test_what_workers_send_pickles_back_equal_with_every_field() -> None:
    """Observation, Finding and ObsRow pickle as their fields (model.pickled_by_fields):
    a field the constructor does not take, or one left out, would come back wrong."""
    import copy
    import pickle

    from netatlas.model import Finding

    obs = next(_observations(1))
    obs.risks = [Finding(id="redis-no-auth", severity="high", title="Redis without auth")]
    obs.vulns = {"CVE-2026-0001": {"cvss": 9.8}}
    obs.hostnames = ["a.lab.test"]
    for value in (obs, encode(obs)):
        back = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        assert back == value and type(back) is type(value)
        assert copy.copy(value) == value
    assert isinstance(pickle.loads(pickle.dumps(obs)).risks[0], Finding)
