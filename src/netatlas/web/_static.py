"""Serving the UI's own static files (CSS, JS, vendored libraries) from the package.

A route rather than a Mount, so the API's app picks it up with ``include_router``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse

from netatlas.web._security import secure

STATIC_DIR = Path(str(resources.files("netatlas.web").joinpath("static"))).resolve()
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
# A name we ship: plain segments, none hidden or dotted, short. Anything else (NUL,
# "..", backslashes, a name past NAME_MAX) is a 404 before the file system sees it:
# os.path.realpath raises on NUL and open() on over-long names.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
MAX_DEPTH = 4


def _safe(path: str) -> bool:
    parts = path.split("/")
    return len(parts) <= MAX_DEPTH and all(_SEGMENT.fullmatch(p) for p in parts)


def static_file(path: str) -> FileResponse:
    if not _safe(path):
        raise HTTPException(status_code=404)
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        raise HTTPException(status_code=404)
    media = TYPES.get(target.suffix)
    if media is None:
        raise HTTPException(status_code=404)
    response = FileResponse(target, media_type=media)
    response.headers["Cache-Control"] = "public, max-age=3600"
    secure(response)
    return response
