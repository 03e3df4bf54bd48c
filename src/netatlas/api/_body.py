"""Bodies the Shodan-compatible routes read by hand (a JSON object, a form), checked
for shape and with every field bounded. The guard has already capped the whole body."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from netatlas.api._errors import ApiError, clip
from netatlas.api._limits import MAX_FIELD, MAX_TARGET, MAX_TARGETS


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying what it is instead."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object, not {type(body).__name__}")
    return body


async def form_fields(request: Request, limit: int = MAX_FIELD) -> dict[str, str]:
    """The form's text fields (files are ignored), each at most ``limit`` characters."""
    form = await request.form()
    out = {k: v for k, v in form.items() if isinstance(v, str)}
    for name, value in out.items():
        field(name, value, limit)
    return out


def field(name: str, value: object, limit: int = MAX_FIELD) -> str:
    """``value`` as text of at most ``limit`` characters, or a 400 naming the field."""
    if not isinstance(value, str):
        raise ApiError(400, f"{clip(name)}: must be text")
    if len(value) > limit:
        raise ApiError(400, f"{clip(name)}: {len(value)} characters; at most {limit}")
    return value


def targets(name: str, value: Any) -> list[str]:
    """A list of networks: one text ("a,b") or a list of texts, each bounded."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ApiError(400, f"{name}: a list of networks (text) is expected")
    out = [s.strip() for i in items for s in i.split(",") if s.strip()]
    if not out:
        raise ApiError(400, f"{name}: name the networks")
    if len(out) > MAX_TARGETS:
        raise ApiError(400, f"{name}: {len(out)} networks; at most {MAX_TARGETS}")
    for t in out:
        field(name, t, MAX_TARGET)
    return out
