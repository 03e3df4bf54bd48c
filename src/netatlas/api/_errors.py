"""Errors as JSON ``{"error": ...}`` (the shape the shodan client reads), with the
position and expectations of a bad query.

An error may quote what the client sent; it quotes a short prefix, escaped, so a
hostile field neither comes back whole nor reaches a terminal as escape sequences.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from netatlas.query import QuerySyntaxError

MAX_MESSAGE = 400  # characters of an error message
QUOTE = 64  # characters of client text an error quotes


def escape(text: str) -> str:
    """Control, format (bidi overrides) and separator characters as Python escapes."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def clip(value: object, limit: int = QUOTE) -> str:
    """Client text as an error quotes it: repr-quoted, escaped, at most ``limit``
    characters, with the full length when it was cut."""
    text = str(value)
    shown = repr(text[:limit])  # repr escapes what is not printable
    return shown if len(text) <= limit else f"{shown}… ({len(text)} characters)"


def _bounded(message: str) -> str:
    message = escape(message)
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "…"


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.extra = extra


def error_response(status: int, message: str, headers: dict[str, str] | None = None,
                   **extra: object) -> JSONResponse:
    return JSONResponse({"error": _bounded(message), **extra}, status_code=status,
                        headers=headers)


def _invalid_message(errors: list[dict[str, Any]]) -> str:
    """The first validation error in words: where, and the bound when one was passed."""
    if not errors:
        return "invalid request parameters"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    ctx = first.get("ctx") or {}
    if first.get("type") in ("string_too_long", "too_long") and "max_length" in ctx:
        unit = "characters" if first["type"] == "string_too_long" else "items"
        what = f"too long (at most {ctx['max_length']} {unit})"
    else:
        what = str(first.get("msg", "invalid"))
    return f"invalid request parameters: {where}: {what}"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(QuerySyntaxError)
    async def _query_error(request: Request, exc: QuerySyntaxError) -> JSONResponse:
        return error_response(400, exc.message, column=exc.column, expected=exc.expected,
                              query=exc.query)

    @app.exception_handler(TimeoutError)
    async def _timeout(request: Request, exc: TimeoutError) -> JSONResponse:
        return error_response(503, str(exc) or "the query took too long")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return error_response(400, _invalid_message(list(exc.errors())), details=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))
