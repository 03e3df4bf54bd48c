"""Importing one input into a store: open (decompressing), detect or take the format,
read it as a stream of observations, hand them to the store's bulk writer.

Nothing is held beyond a batch: the store's writer commits batches of observations,
each one transaction, so a crash mid-import loses at most the batch in flight and
never leaves part of a record visible; the stores keep one copy of an observation
(address, port, transport, time) however often it is written, so importing the same
file again doubles nothing (imported records keep their producer's own time).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from netatlas.model import Observation
from netatlas.store import Store

from . import httpx, masscan, netatlas_jsonl, nmap_xml, shodan, zgrab2
from ._common import InputError, Item, Origin, Skip
from ._input import Input, open_input
from .sniff import FORMATS, Detected, sniff

PROGRESS_EVERY = 1000  # records between progress reports
MAX_SKIPS_KEPT = 20  # skipped lines reported one by one; the rest are counted by reason

ProgressFn = Callable[["FileReport", Input], None]
Transform = Callable[[Observation], Observation]


@dataclass
class FileReport:
    name: str
    format: str = ""
    variant: str = ""
    reason: str = ""  # why this format (auto-detection) or "given"
    compression: str | None = None
    imported: int = 0  # new to the store (while importing: records read and sent)
    already_stored: int = 0  # read, but the store held them (an input imported before)
    skipped: int = 0
    skips: list[Skip] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    error: str | None = None

    def skip(self, item: Skip) -> None:
        self.skipped += 1
        if len(self.skips) < MAX_SKIPS_KEPT:
            self.skips.append(item)
        self.reasons[_reason_kind(item.reason)] += 1

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.name, "format": self.format, "variant": self.variant,
            "detected": self.reason, "compression": self.compression,
            "imported": self.imported, "already_stored": self.already_stored,
            "skipped": self.skipped,
            "skipped_by_reason": dict(self.reasons),
            "skips": [{"line": s.line, "reason": s.reason} for s in self.skips],
            "error": self.error,
        }


def _reason_kind(reason: str) -> str:
    """A reason without its particulars, for counting ("not JSON", "port out of range")."""
    return re.split(r"[:(]", reason, maxsplit=1)[0].strip()[:80]


def _choose(inp: Input, fmt: str) -> Detected:
    if fmt == "auto":
        return sniff(inp.head)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of: auto, {', '.join(FORMATS)}")
    try:
        found = sniff(inp.head)
    except InputError:
        found = None
    if found is not None and found.format == fmt:
        return Detected(fmt, found.variant, "given (" + found.reason + ")")
    head = inp.head.lstrip()
    if fmt == "nmap":
        variant = "xml"
    elif fmt == "masscan":
        variant = ("xml" if head.startswith(b"<") else
                   "json" if head.startswith((b"[", b"{")) else "list")
        if head.startswith(b"{") and b'"rec_type"' in head[:4096]:
            variant = "ndjson"
    else:
        variant = "jsonl"
    return Detected(fmt, variant, "given")


def _scan_id(source: str, name: str) -> str:
    base = "stdin" if name == "-" else Path(name).name
    return f"import-{source}-" + re.sub(r"[^A-Za-z0-9._-]", "_", base)[:100]


def read_items(inp: Input, detected: Detected) -> Iterator[Item]:
    origin = Origin(source=detected.format, file=inp.name,
                    scan_id=_scan_id(detected.format, inp.name))
    stream = inp.stream
    if detected.format == "nmap":
        return nmap_xml.read(stream, origin)
    if detected.format == "masscan":
        return masscan.read(stream, origin, detected.variant)
    if detected.format == "zgrab2":
        return zgrab2.read(stream, origin)
    if detected.format == "httpx":
        return httpx.read(stream, origin)
    if detected.format == "shodan":
        return shodan.read(stream, origin)
    return netatlas_jsonl.read(stream, origin)


def import_file(store: Store, name: str, fmt: str = "auto",
                transform: Transform | None = None,
                on_detect: Callable[[FileReport], None] | None = None,
                on_progress: ProgressFn | None = None) -> FileReport:
    """Import one input (``-`` is stdin) into ``store``; the report says what went in,
    what was skipped (line and reason) and, when the whole input could not be read,
    why (``error``). Waits until everything read is committed."""
    report = FileReport(name=name)
    held_before = store.already_stored()
    try:
        inp = open_input(name)
    except (OSError, EOFError, ValueError) as exc:
        report.error = f"cannot open: {exc}"
        return report
    try:
        report.compression = inp.compression
        detected = _choose(inp, fmt)
        report.format, report.variant, report.reason = (
            detected.format, detected.variant, detected.reason)
        if on_detect:
            on_detect(report)

        def observations() -> Iterator[Observation]:
            # one stream into the store, not batches: a bulk add encodes in worker
            # processes beside the writer (store/encoding.py), which this runs in too
            for item in read_items(inp, detected):
                if isinstance(item, Skip):
                    report.skip(item)
                    continue
                obs = transform(item) if transform else item
                report.imported += 1
                yield obs
                if on_progress and report.imported % PROGRESS_EVERY == 0:
                    on_progress(report, inp)

        store.add_many(observations())
        store.flush()
    except InputError as exc:
        report.error = str(exc)
    except (OSError, EOFError, ValueError) as exc:  # a damaged archive mid-way, a bad xz
        store.flush()
        report.error = f"input ends unreadable after {report.imported} records:" \
                       f" {type(exc).__name__}: {exc}"
    finally:
        inp.close()
        # re-importing doubles nothing; the summary says so rather than "imported N"
        report.already_stored = store.already_stored() - held_before
        report.imported -= report.already_stored
    if on_progress:
        on_progress(report, inp)
    return report
