"""Web technologies from our own rules, for when no Wappalyzer-format data is loaded:
every product an ``http.*`` rule names (the web server and the application behind it:
Tornado and Jupyter Server, Werkzeug and TensorBoard), in the shape Wappalyzer's list has.
``product`` keeps the most specific one; this list keeps them all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netatlas.identify.fields import lookup
from netatlas.identify.rules import MATCH_TIMEOUT, Rule, RuleTimeout


def rule_technologies(rules: Iterable[Rule], http: Mapping[str, Any],
                      timeout: float = MATCH_TIMEOUT) -> list[dict[str, Any]]:
    """``[{name, version, categories, cpe, confidence}]``, most specific first."""
    sections = {"http": http}
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for rule in rules:
        http_fields = [f for f in rule.fields if f.startswith("http.")]
        value = next((v for f in http_fields
                      if (v := lookup(sections, f)) is not None), None)
        if value is None:
            continue
        try:
            cand = rule.apply(value, sections, timeout=timeout)
        except RuleTimeout:
            continue
        if cand is None or not cand.product:
            continue
        key = cand.product.casefold()
        prev = found.get(key)
        priority = max(cand.priority, prev[0]) if prev else cand.priority
        if prev is not None and (prev[1]["version"] or not cand.version):
            found[key] = (priority, prev[1])
            continue
        found[key] = (priority, {
            "name": cand.product, "version": cand.version, "categories": [],
            "cpe": cand.cpe[0] if cand.cpe else None, "confidence": 100})
    ranked = sorted(found.values(), key=lambda pt: -pt[0])
    return [t for _, t in ranked]
