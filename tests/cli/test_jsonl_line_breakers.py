"""JSON lines stay one record a line for every line reader: U+2028, U+2029 and U+0085
inside a banner or a title are written escaped (valid JSON either way, but
``str.splitlines()`` cut a record in two at each), by every JSON-lines writer: search
--json, export jsonl (CLI and API), export shodan, and the spill files of grouping."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner

from netatlas import jsonlines
from netatlas.api import create_app
from netatlas.cli.main import cli
from netatlas.interop import grouping
from netatlas.model import Observation
from netatlas.store import open_store

BREAKERS = "a\u2028b\u2029c\x85d"
TITLE = f"title {BREAKERS} end"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    store = open_store(path)
    for i in range(3):
        store.add(Observation(
            ip=f"127.20.0.{i + 1}", port=80, transport="tcp",
            timestamp=datetime(2026, 11, 1, 12, i, tzinfo=UTC), scan_id="s1", service="http",
            product="nginx", data=f"HTTP/1.1 200 OK\r\nX: {BREAKERS}\r\n".encode(),
            sections={"http": {"title": TITLE}}))
    store.close()
    return path


def _lines(text: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(rec["http"]["title"] == TITLE for rec in lines)  # type: ignore[index]
    return lines


def test_the_encoder_escapes_line_breakers_and_reads_back_the_same() -> None:
    value = {"s": BREAKERS, "k": [BREAKERS], BREAKERS: 1, "é": "ü"}
    text = jsonlines.dumps(value)
    assert text.splitlines() == [text] and json.loads(text) == value and "é" in text
    raw = jsonlines.dumps_bytes(value)
    assert raw.endswith(b"\n") and raw.decode().splitlines() == [raw.decode()[:-1]]
    assert orjson.loads(raw) == value


def test_cli_search_json_and_export_jsonl(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "--json", "--db", str(db), "--", "port:80"])
    assert result.exit_code == 0, result.output
    assert len(_lines(result.output)) == 3
    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli, ["export", "--db", str(db), "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(_lines(out.read_text())) == 3


def test_cli_export_shodan(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.json.gz"
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "shodan",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = gzip.decompress(out.read_bytes()).decode()
    banners = [json.loads(line) for line in text.splitlines()]
    assert len(banners) == 3 and all(BREAKERS in b["data"] for b in banners)


async def test_api_export_jsonl(db: Path) -> None:
    app = create_app(str(db), open_access=True)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get("/api/v1/export", params={"q": "", "format": "jsonl"})
    app.state.services.close()
    assert r.status_code == 200
    assert len(_lines(r.text)) == 3


def test_grouping_spills_one_record_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grouping, "RUN", 2)  # spill to files after every 2 records
    records = [{"ip_str": f"127.0.0.{i}", "port": 80, "t": BREAKERS} for i in range(5)]
    groups = list(grouping.by_address(records))
    assert [g[0] for g in groups] == [r["ip_str"] for r in records]
    assert all(g[1][0]["t"] == BREAKERS for g in groups)
