"""End to end: ``netatlas scan`` of a Kafka broker, a Cassandra node (TCP, on ephemeral
ports, none of them their usual ones) and an ONVIF camera (UDP WS-Discovery, on its
own port 3702: discovery sends the Probe there, not to every UDP port) on one
127.20.x.y address, then ``netatlas search``: each record carries its product and its
finding. The servers are the spec-built ones of tests/grab/test_kafka.py,
test_cassandra.py and test_onvif.py (no real one is installable here), run on an event
loop of their own while the CLI scans them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..grab.conftest import serve
from ..grab.test_cassandra import CqlServer
from ..grab.test_kafka import Broker
from ..grab.test_onvif import camera
from .test_scan_lab import jsonl, netatlas

HOST = "127.20.250.94"
ONVIF_PORT = 3702


class Camera(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        for reply in camera(data):
            self.transport.sendto(reply, addr)


@contextlib.contextmanager
def servers() -> Iterator[tuple[int, int, int]]:
    """(kafka port, cassandra port, onvif UDP port), served until the block ends."""
    ready: list[tuple[int, int, int]] = []
    started, stop = threading.Event(), threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Camera(), local_addr=(HOST, ONVIF_PORT))
        try:
            async with serve(Broker(), HOST) as kafka, serve(CqlServer(), HOST) as cql:
                ready.append((kafka, cql, ONVIF_PORT))
                started.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)
        finally:
            transport.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), "test servers did not start"
    try:
        yield ready[0]
    finally:
        stop.set()
        thread.join(10)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, int, int]]:
    db = tmp_path_factory.mktemp("streams") / "streams.db"
    with servers() as ports:
        kafka, cql, onvif = ports
        assert 2024 not in ports and 9092 not in ports and 9042 not in ports
        netatlas("scan", HOST, "-p", f"T:{kafka},{cql},U:{onvif}", "--exclude-ports", "2024",
                 "--allow", f"{HOST}/32", "--json", db=db)
    return db, ports


def test_products_and_findings_in_the_records(
        scanned: tuple[Path, tuple[int, int, int]]) -> None:
    db, (kafka, cql, onvif) = scanned
    recs = {(r["port"], r["transport"]): r for r in jsonl(netatlas(
        "search", f"ip:{HOST}", "--json", "--limit", "10", db=db).stdout)}
    k, c, o = recs[(kafka, "tcp")], recs[(cql, "tcp")], recs[(onvif, "udp")]
    assert (k["product"], k["kafka"]["topics"]) == ("Apache Kafka", ["orders", "payments"])
    assert [r["id"] for r in k["risks"]] == ["kafka-no-auth"]
    assert (c["product"], c["version"]) == ("Apache Cassandra", "4.1.3")
    assert [r["id"] for r in c["risks"]] == ["cassandra-no-auth"]
    assert o["product"] == "Hikvision IP camera" and "camera" in o["tags"]
    assert [r["id"] for r in o["risks"]] == ["onvif-exposed"]


def test_found_by_search(scanned: tuple[Path, tuple[int, int, int]]) -> None:
    db, (kafka, cql, onvif) = scanned
    for query, port in (("risk:kafka-no-auth", kafka), ("risk:cassandra-no-auth", cql),
                        ("tag:camera risk:onvif-exposed", onvif),
                        ('product:"Apache Cassandra" version:4.1.3', cql)):
        found = jsonl(netatlas("search", query, "--json", db=db).stdout)
        assert [r["port"] for r in found] == [port], query
