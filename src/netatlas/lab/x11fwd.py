"""The lab's X servers: Debian's Xvfb, reachable over TCP on one loopback address only.

Xvfb can listen on TCP only on the wildcard address (port 6000 + display), which the lab
forbids (every daemon binds its own addresses alone, and an X server on every address
would answer a scan of the whole range). So Xvfb listens on its Unix socket only, and
this process, which the lab starts and stops by PID, carries each TCP connection on
IP:PORT to it, byte for byte; Xvfb's own answers are what a client reads::

    python x11fwd.py 127.20.0.82:6000 DISPLAY open|auth STATE_DIR

``open``: ``-ac``, anyone may connect. ``auth``: ``-auth`` with a cookie nobody is told,
so a client without it gets "Authorization required". SIGTERM stops Xvfb, then exits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

XVFB = "/usr/bin/Xvfb"
CHUNK = 64 * 1024


def xauthority(path: Path, display: int) -> Path:
    """One MIT-MAGIC-COOKIE-1 entry (Xauthority file format, family FamilyLocal)."""
    def field(b: bytes) -> bytes:
        return struct.pack(">H", len(b)) + b
    path.write_bytes(struct.pack(">H", 256) + field(b"netatlas-lab")
                     + field(str(display).encode()) + field(b"MIT-MAGIC-COOKIE-1")
                     + field(os.urandom(16)))
    path.chmod(0o600)
    return path


def xvfb_argv(display: int, mode: str, state: Path) -> list[str]:
    argv = [XVFB, f":{display}", "-nolisten", "tcp", "-listen", "unix",
            "-screen", "0", "800x600x24"]
    if mode == "open":
        return [*argv, "-ac"]
    return [*argv, "-auth", str(xauthority(state / f"xauth{display}", display))]


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        dst.write_eof()


async def serve(ip: str, port: int, socket_path: str, xvfb: subprocess.Popen[bytes]) -> None:
    async def carry(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            xr, xw = await asyncio.open_unix_connection(socket_path)
        except OSError:
            w.close()
            return
        try:
            await asyncio.gather(_pipe(r, xw), _pipe(xr, w))
        finally:
            xw.close()
            w.close()

    server = await asyncio.start_server(carry, ip, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set() and xvfb.poll() is None:  # Xvfb gone: nothing to carry to
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    server.close()


def main(argv: list[str]) -> int:
    listen, display_s, mode, state_s = argv
    ip, _, port = listen.rpartition(":")
    display, state = int(display_s), Path(state_s)
    xvfb = subprocess.Popen(xvfb_argv(display, mode, state), stdin=subprocess.DEVNULL)
    socket_path = f"/tmp/.X11-unix/X{display}"
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(socket_path):
            if xvfb.poll() is not None or time.monotonic() > deadline:
                print(f"x11fwd: Xvfb :{display} did not start", file=sys.stderr)
                return 1
            time.sleep(0.05)
        asyncio.run(serve(ip, int(port), socket_path, xvfb))
    finally:
        xvfb.terminate()
        try:
            xvfb.wait(10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
