"""``export --format shodan``: gzip'd JSON lines of Shodan banners, the file
``shodan download`` writes, so the official ``shodan parse`` / ``shodan convert`` (and
``netatlas import``) read netatlas's map. Sections Shodan has a property for
(``elastic``, ``cassandra``, ``mongodb``, ``redis``, ``mqtt``, ``ftp``, ``rsync``, ``snmp``) go out
in Shodan's shape (shodan_sections.py)."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import IO, Any

from netatlas import jsonlines
from netatlas.api._records import shodan_banner


def write(records: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    n = 0
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6) as gz:
        for rec in records:
            gz.write(jsonlines.dumps_bytes(banner(rec)))
            n += 1
    return n


def banner(rec: dict[str, Any]) -> dict[str, Any]:
    """One record as the Shodan banner written (as the Shodan API serves it)."""
    return shodan_banner(rec)
