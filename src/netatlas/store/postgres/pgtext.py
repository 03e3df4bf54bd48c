"""What PostgreSQL text cannot hold: NUL, and lone surrogates (not UTF-8).

Search columns and query values both get U+FFFD in their place, so a value with a NUL
still finds the row it came from; the published record is kept exactly elsewhere
(``observations.doc``, ``docs.raw``).
"""

from __future__ import annotations

import re

_BAD = re.compile("[\x00\ud800-\udfff]")
# An escape (after an even number of backslashes) that jsonb refuses: NUL, or half of a
# surrogate pair without the other half.
_JSON_BAD = re.compile(
    r"(?<!\\)((?:\\\\)*)(\\u0000"
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")


def pg_text(value: str) -> str:
    return _BAD.sub("\ufffd", value) if _BAD.search(value) else value


def pg_json(doc: str) -> str:
    """JSON text that jsonb accepts (U+FFFD for the escapes it refuses); ``doc`` itself
    when it needs nothing. JSON text from rows.record_json has no raw NUL or surrogate."""
    if "\\u0000" in doc or "\\ud" in doc or "\\uD" in doc:
        return _JSON_BAD.sub(lambda m: m.group(1) + "\\ufffd", doc)
    return doc
