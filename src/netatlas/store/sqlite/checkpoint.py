"""The WAL's checkpoints, off the writer's thread.

SQLite's automatic checkpoint runs inside the COMMIT of whichever write crosses
``wal_autocheckpoint`` pages: under a bulk ingest that was about 40 µs of the writer's
time per observation (60k rows: COMMIT 3.7 s with it, 1.3 s without). The writer turns
it off and tells this thread after each commit; the thread copies what was committed
into the database file with a PASSIVE checkpoint — the same kind the automatic one is,
which never blocks the writer or a reader — on its own connection, while the writer goes
on (the sqlite3 module lets go of the GIL while SQLite works).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading

BUSY_MS = 30_000
# If checkpoints fall behind this far (a starved thread), the writer runs one itself.
WAL_RESCUE_BYTES = 256 << 20


class Checkpointer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="netatlas-checkpoint",
                                        daemon=True)
        self._thread.start()

    def committed(self, writer: sqlite3.Connection) -> None:
        """After a commit: wake the thread (several commits while it works make one
        checkpoint); past WAL_RESCUE_BYTES of WAL, checkpoint on the writer's own
        connection instead of letting the file grow."""
        try:
            behind = os.path.getsize(self.path + "-wal") > WAL_RESCUE_BYTES
        except OSError:
            behind = False
        if behind:
            with contextlib.suppress(sqlite3.Error):  # one already running: it will do
                writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                with contextlib.suppress(sqlite3.Error):  # busy: the next commit wakes it
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()
