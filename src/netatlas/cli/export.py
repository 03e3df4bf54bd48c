"""``netatlas export``'s writers, one per format, over a stream of records."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any, cast

from netatlas.cli import escape, render
from netatlas.cli.escape import TerminalWriter


def write_export(records: Iterable[dict[str, Any]], fmt: str, output: str) -> int:
    """Write ``records`` to ``output`` (``-`` is stdout) in ``fmt``; returns how many
    records (hosts, for internetdb-sqlite) were written."""
    if fmt == "internetdb-sqlite":
        from netatlas.interop.internetdb import summaries
        from netatlas.store.internetdb import write

        return write(output, summaries(records), source="netatlas export")
    if fmt == "shodan":
        from netatlas.interop.shodan_writer import write as write_shodan

        if output == "-":
            return write_shodan(records, sys.stdout.buffer)
        with open(output, "wb") as out:
            return write_shodan(records, out)
    with (open(output, "w", encoding="utf-8", newline="") if output != "-"
          else _stdout()) as out:
        if fmt == "nmap":
            from netatlas.interop.nmap_writer import write as write_nmap

            # XML has no escape for C1 or bidi characters: a terminal gets them visible
            return write_nmap(records, cast(IO[str], TerminalWriter(out))
                              if escape.is_terminal(out) else out)
        if fmt == "csv":
            return render.write_csv(records, out)
        return render.print_json_lines(records, out)


class _stdout:
    """stdout as a context manager that is not closed."""

    def __enter__(self) -> Any:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
