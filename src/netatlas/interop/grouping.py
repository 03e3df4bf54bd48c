"""Records grouped by address, in bounded memory: an external merge sort (sorted runs
of ``RUN`` records spilled to temporary files, then merged), for writers whose format
holds one element per host (nmap XML, InternetDB)."""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from netatlas import jsonlines

RUN = 50_000


def _key(rec: dict[str, Any]) -> tuple[int, int, int]:
    try:
        addr = ipaddress.ip_address(rec["ip_str"])
        return (addr.version, int(addr), int(rec.get("port") or 0))
    except (ValueError, KeyError):
        return (9, 0, 0)


def _spill(run: list[tuple[tuple[int, int, int], dict[str, Any]]]) -> IO[bytes]:
    run.sort(key=lambda kr: kr[0])
    f = tempfile.TemporaryFile()  # noqa: SIM115 - closed after the merge
    for _, rec in run:
        f.write(jsonlines.dumps_bytes(rec))
    f.seek(0)
    return f


def _read(f: IO[bytes]) -> Iterator[tuple[tuple[int, int, int], dict[str, Any]]]:
    for line in f:
        rec = orjson.loads(line)
        yield _key(rec), rec


def by_address(records: Iterable[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(ip, its records sorted by port) for every address, addresses in numeric order."""
    files: list[IO[bytes]] = []
    run: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    try:
        for rec in records:
            run.append((_key(rec), rec))
            if len(run) >= RUN:
                files.append(_spill(run))
                run = []
        run.sort(key=lambda kr: kr[0])
        streams = [_read(f) for f in files] + [iter(run)]
        merged = heapq.merge(*streams, key=lambda kr: kr[0])
        for _, group in itertools.groupby(merged, key=lambda kr: kr[0][:2]):
            recs = [rec for _, rec in group]
            yield recs[0]["ip_str"], recs
    finally:
        for f in files:
            f.close()
