"""Rule sources parsed once per process, not once per scan.

A monitor daemon or a worker runs scan after scan in one process; each new
``Identifier`` re-read the YAML rules and ~5,000 Recog/Wappalyzer fingerprints
(about 0.4 s of CPU a scan, the daemon's bottleneck at a few runs a second).
Entries are keyed on the path, size and mtime of every file read, so an edited or
added rule file is read again on the next scan; the loaded objects are shared
read-only between the ``Identifier``s that use them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
FilesKey = tuple[tuple[str, int, int], ...]

MAX_ENTRIES = 8  # a handful of rule sets per process; old ones are dropped

_lock = threading.Lock()
_entries: OrderedDict[Hashable, Any] = OrderedDict()


def files_key(paths: Iterable[Path]) -> FilesKey:
    """``(path, size, mtime_ns)`` of every file under ``paths`` (files or folders)."""
    out: list[tuple[str, int, int]] = []
    for p in paths:
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                out.append((str(f), -1, -1))  # gone: a later load says so
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s result for ``key``, loaded at most once while it stays cached.
    Loading happens outside the lock (it can take a while); two first callers may
    both load, and the first result stored wins."""
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            return _entries[key]
    value = load()
    with _lock:
        value = _entries.setdefault(key, value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
