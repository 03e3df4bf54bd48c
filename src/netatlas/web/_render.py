"""The Jinja environment: autoescape on for every template, undefined names are errors."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from netatlas.web._query import refine, search_url, term
from netatlas.web._security import secure


@cache
def search_fields() -> list[tuple[str, str]]:
    """(field, description) for the syntax help, from the search language's registry."""
    from netatlas.query import FIELDS

    unique = {f.name: f for f in FIELDS.values()}
    return [(f.name, f.description) for f in unique.values()]


ENV = Environment(
    loader=PackageLoader("netatlas.web", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals.update(
    search_url=search_url,
    refine=refine,
    term=term,
    urlencode=urlencode,
    search_fields=search_fields,
)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = ENV.get_template(name).render(**context)
    return secure(HTMLResponse(html, status_code=status))  # type: ignore[return-value]
