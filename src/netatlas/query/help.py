"""The short syntax help behind ``netatlas search --help-fields``."""

from __future__ import annotations

from .fields import FIELDS

_SYNTAX = """\
Search syntax
  field:value          port:22  product:nginx  country:DE
  field:"two words"    quotes for spaces; \\" \\\\ \\* \\? escape inside values
  -field:value         negation (also NOT field:value); -word excludes full text
  a b / a AND b        both;  a OR b  either;  ( ) groups.  AND binds tighter than OR
  words "a phrase"     full text over banner, title and product; word* is a prefix
  port:>1024 port:<=80 comparisons (numbers, versions, dates, severity)
  port:80,443          any of the listed values
  port:1000-2000       range (also port:[1000 TO 2000], open end with *)
  version:<8.0         versions compare by segment: 1.22rc1 < 1.22 = 1.22.0 < 1.22p1 < 1.22.1
                       so do the releases protocols name (fields typed version below):
                       elastic.version:>=7  cassandra.release_version:[4.0 TO 4.1*]
  net:127.20.0.0/24    CIDR (IPv4 or IPv6)
  after:2026-01-01     dates (or ISO times, UTC by default); before: excludes the day
  product:ngin*        wildcards * and ? on text; text compares case-insensitively
  Keywords AND OR NOT TO are upper case; quote them to search for the words.
"""


def help_text() -> str:
    width = max(len(name) for name in FIELDS) + 2
    lines = [_SYNTAX, "Fields (F = usable as a facet)"]
    for f in FIELDS.values():
        mark = "F" if f.facetable else " "
        extra = f" (also {', '.join(a + ':' for a in f.aliases)})" if f.aliases else ""
        lines.append(f"  {f.name:<{width}}{f.type:<8}{mark} {f.description}{extra}")
        if f.example:
            lines.append(f"  {'':<{width}}{'':<10}e.g. {f.example}")
    return "\n".join(lines) + "\n"
