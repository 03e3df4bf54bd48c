"""Static content the lab's nginx serves: two small sites a scanner can tell apart by
title and favicon hash."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MAIN_TITLE = "netatlas lab"
ALT_TITLE = "Lab admin console"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<link rel="icon" href="/favicon.png" type="image/png"></head>
<body><h1>{title}</h1><p>{body}</p></body>
</html>
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid one-colour PNG, made here so no binary blob ships in the repo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width  # filter byte 0, then RGB pixels
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def write_sites(www: Path) -> None:
    main, alt = www / "main", www / "alt"
    for d in (main, alt):
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
    (main / "index.html").write_text(_PAGE.format(
        title=MAIN_TITLE, body="A local range of real services for netatlas."))
    (main / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    (main / "favicon.png").write_bytes(png(16, 16, (32, 96, 160)))
    (alt / "index.html").write_text(_PAGE.format(
        title=ALT_TITLE, body="Internal dashboard on a non-standard port."))
    (alt / "favicon.png").write_bytes(png(16, 16, (200, 64, 32)))
