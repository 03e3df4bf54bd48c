"""Which netatlas sections have a Shodan banner property of their own, and how each
goes between the two shapes: a registry keyed by the section's name, consulted by the
importer (shodan.py) and by the one banner writer (api/_records.shodan_banner, which
``export --format shodan`` and the Shodan-compatible API share).

One module per protocol holds both directions and says where Shodan's shape comes
from. A protocol that Shodan and netatlas both describe but that is not here is kept
under Shodan's names (imported) or netatlas's (exported), as it is: see the README's
import section for the inventory and why the rest is not translated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import (
    shodan_cassandra,
    shodan_elastic,
    shodan_minor,
    shodan_mongodb,
    shodan_redis,
    shodan_smb,
)


@dataclass(frozen=True, slots=True)
class Translator:
    # (Shodan's object, the whole banner) -> netatlas's section
    from_shodan: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    # netatlas's section -> the object a Shodan banner holds under the same name
    to_shodan: Callable[[dict[str, Any]], dict[str, Any]]


def _elastic_in(value: dict[str, Any], banner: dict[str, Any]) -> dict[str, Any]:
    product = banner.get("product")
    return shodan_elastic.from_shodan(value, product if isinstance(product, str) else None)


TRANSLATORS: dict[str, Translator] = {
    "elastic": Translator(_elastic_in, shodan_elastic.to_shodan),
    "cassandra": Translator(shodan_cassandra.from_shodan, shodan_cassandra.to_shodan),
    "mongodb": Translator(shodan_mongodb.from_shodan, shodan_mongodb.to_shodan),
    "redis": Translator(shodan_redis.from_shodan, shodan_redis.to_shodan),
    "smb": Translator(shodan_smb.from_shodan, shodan_smb.to_shodan),
    **{name: Translator(i, o) for name, (i, o) in shodan_minor.TRANSLATORS.items()},
}


def from_shodan(name: str, value: dict[str, Any], banner: dict[str, Any]) -> dict[str, Any] | None:
    """netatlas's section for a banner's ``name`` object, or None when Shodan and
    netatlas do not both describe it (the caller keeps it as it is)."""
    t = TRANSLATORS.get(name)
    return None if t is None else t.from_shodan(value, banner)


def to_shodan(banner: dict[str, Any]) -> None:
    """Every section of an outgoing banner that Shodan has a shape for, in that shape
    (in place)."""
    for name, t in TRANSLATORS.items():
        if isinstance(banner.get(name), dict):
            banner[name] = t.to_shodan(banner[name])
