"""netatlas's own identification rules: YAML files, validated on load.

A rule file is a mapping::

    description: free text            # optional
    aliases: {"Redis key-value store": Redis}   # optional: other sources' names -> ours
    rules:
      - id: http.nginx                # unique across all files
        field: http.server            # dotted path (see fields.py), or a list of
                                      # alternative paths: the first present is used
        pattern: '^nginx(?:/(\\d[\\w.]*))?'
        flags: i                      # any of i s m x (optional)
        service: http
        product: nginx
        version: $1                   # $N / ${name}: capture group; {field:a.b}: a field
        cpe: cpe:/a:f5:nginx:{version}  # {version} empty -> the component is dropped
        info / os / devicetype: ...   # templates like version
        tags: [web]                   # optional
        priority: 0                   # higher wins among matches (default 0)
        component: false              # true: names a part (PHP), never the product
        examples:
          - input: nginx/1.22.1
            expect: {product: nginx, version: 1.22.1}
          - input: Apache
            match: false

A template that refers to a missing group or field yields no value at all (the
attribute stays unknown) -- except in a CPE, where an empty component is dropped
from the end. Every rule must carry at least one matching example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
import yaml

from netatlas.identify.candidate import Candidate
from netatlas.identify.fields import as_texts, lookup

RULES_DIR = Path(__file__).parent / "rules"
MATCH_TIMEOUT = 0.05
MAX_VALUE = 200  # chars kept of any identified attribute

_FLAGS = {"i": regex.IGNORECASE, "s": regex.DOTALL, "m": regex.MULTILINE, "x": regex.VERBOSE}
_TEXT_ATTRS = ("service", "product", "version", "info", "os", "devicetype")
_RULE_KEYS = {
    "id", "field", "pattern", "flags", "cpe", "tags", "priority", "component",
    "examples", "notes", *_TEXT_ATTRS,
}
_EXPECT_KEYS = {*_TEXT_ATTRS, "cpe", "tags"}
_EXAMPLE_KEYS = {"input", "expect", "match", "context"}
_TEMPLATE = regex.compile(r"\$(\d)|\$\{(\w+)\}|\{field:([\w.\-]+)\}|\{(\w+)\}")
_CPE_PART = regex.compile(r"^cpe:/[aoh]:[^:\s]+:[^:\s]+")


class RuleError(ValueError):
    """A rule file that does not follow the schema; the message names file and rule."""


@dataclass(slots=True)
class Example:
    input: Any
    expect: dict[str, Any] | None  # None: the rule must not match
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Rule:
    id: str
    fields: tuple[str, ...]
    pattern: str
    flags: str
    compiled: Any
    templates: dict[str, str]
    cpe: tuple[str, ...]
    tags: tuple[str, ...]
    priority: int
    component: bool
    source: str  # file stem
    examples: list[Example]

    @property
    def field(self) -> str:
        return self.fields[0]

    def apply(self, value: Any, sections: Mapping[str, Any] | None = None,
              timeout: float = MATCH_TIMEOUT) -> Candidate | None:
        """Run the rule over a field value; the first matching list item counts."""
        for text in as_texts(value):
            try:
                hit = self.compiled.search(text, timeout=timeout)
            except TimeoutError:
                raise RuleTimeout(self.id) from None
            if hit is not None:
                return self._candidate(hit, sections or {})
        return None

    def _candidate(self, hit: Any, sections: Mapping[str, Any]) -> Candidate:
        vals: dict[str, str | None] = {}
        for key in _TEXT_ATTRS:
            tmpl = self.templates.get(key)
            vals[key] = _clean(expand(tmpl, hit, sections, vals)) if tmpl else None
        cpes = [c for c in (expand_cpe(t, hit, sections, vals) for t in self.cpe) if c]
        return Candidate(
            source="netatlas", kind="rule", rule_id=self.id, cpe=cpes, tags=list(self.tags),
            priority=self.priority, component=self.component, **vals,
        )


class RuleTimeout(Exception):
    def __init__(self, rule_id: str) -> None:
        super().__init__(f"rule {rule_id} timed out")
        self.rule_id = rule_id


def _clean(s: str | None) -> str | None:
    if s is None:
        return None
    s = "".join(ch for ch in s if ch.isprintable()).strip()
    return s[:MAX_VALUE] or None


def _sub(template: str, hit: Any, sections: Mapping[str, Any],
         vals: Mapping[str, str | None], cpe: bool = False) -> tuple[str, bool]:
    missing = False

    def repl(m: Any) -> str:
        nonlocal missing
        if m.group(1) is not None:
            v = hit.group(int(m.group(1))) if hit is not None else None
        elif m.group(2) is not None:
            v = hit.groupdict().get(m.group(2)) if hit is not None else None
        elif m.group(3) is not None:
            texts = as_texts(lookup(sections, m.group(3)))
            v = texts[0] if texts else None
        else:
            v = vals.get(m.group(4))
        if not v:
            missing = True
            return ""
        v = str(v)[:MAX_VALUE]
        # a value must stay one CPE component, whatever the server sent
        return v.replace(":", "_").replace(" ", "_").lower() if cpe else v

    return _TEMPLATE.sub(repl, template), missing


def expand(template: str, hit: Any, sections: Mapping[str, Any],
           vals: Mapping[str, str | None]) -> str | None:
    out, missing = _sub(template, hit, sections, vals)
    return None if missing else out


def expand_cpe(template: str, hit: Any, sections: Mapping[str, Any],
               vals: Mapping[str, str | None]) -> str | None:
    out, _ = _sub(template, hit, sections, vals, cpe=True)
    out = "".join(ch for ch in out if ch.isprintable() and not ch.isspace())
    out = out.rstrip(":")
    return out if _CPE_PART.match(out) else None


# -- loading ---------------------------------------------------------------------

def _fail(where: str, msg: str) -> RuleError:
    return RuleError(f"{where}: {msg}")


def _groups_referenced(template: str) -> tuple[set[int], set[str]]:
    nums, names = set(), set()
    for m in _TEMPLATE.finditer(template):
        if m.group(1) is not None:
            nums.add(int(m.group(1)))
        elif m.group(2) is not None:
            names.add(m.group(2))
    return nums, names


def parse_rule(raw: Any, where: str, source: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise _fail(where, "a rule must be a mapping")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid:
        raise _fail(where, "missing 'id'")
    where = f"{where} ({rid})"
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    if not isinstance(raw.get("pattern"), str) or not raw["pattern"]:
        raise _fail(where, "'pattern' must be a non-empty string")
    fields = [raw.get("field")] if isinstance(raw.get("field"), str) else raw.get("field")
    if not isinstance(fields, list) or not fields or not all(
        isinstance(f, str) and f and not f.startswith(".") and ".." not in f for f in fields
    ):
        raise _fail(where, "'field' must be a dotted path (e.g. http.server) or a list of them")
    flags = str(raw.get("flags") or "")
    bits = 0
    for f in flags:
        if f not in _FLAGS:
            raise _fail(where, f"unknown flag {f!r} (allowed: i s m x)")
        bits |= _FLAGS[f]
    try:
        compiled = regex.compile(raw["pattern"], bits | regex.V0)
    except regex.error as exc:
        raise _fail(where, f"pattern does not compile: {exc}") from None
    templates: dict[str, str] = {}
    for key in _TEXT_ATTRS:
        if raw.get(key) is not None:
            if not isinstance(raw[key], str | int | float):
                raise _fail(where, f"'{key}' must be a string template")
            templates[key] = str(raw[key])
    cpe_raw = raw.get("cpe") or []
    cpes = (cpe_raw,) if isinstance(cpe_raw, str) else tuple(cpe_raw)
    for c in cpes:
        if not isinstance(c, str) or not _CPE_PART.match(c):
            raise _fail(where, f"cpe {c!r} is not a CPE 2.2 URI like cpe:/a:vendor:product:...")
    for tmpl in [*templates.values(), *cpes]:
        nums, names = _groups_referenced(tmpl)
        if nums and max(nums) > compiled.groups:
            raise _fail(where, f"template {tmpl!r} uses ${max(nums)} but the pattern has "
                               f"{compiled.groups} group(s)")
        if names - set(compiled.groupindex):
            raise _fail(where, f"template {tmpl!r} names unknown group(s) "
                               f"{sorted(names - set(compiled.groupindex))}")
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise _fail(where, "'tags' must be a list of strings")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _fail(where, "'priority' must be an integer")
    component = raw.get("component", False)
    if not isinstance(component, bool):
        raise _fail(where, "'component' must be true or false")
    if component and "product" not in templates:
        raise _fail(where, "a component rule needs a 'product'")
    if not (templates or cpes or tags):
        raise _fail(where, "the rule concludes nothing (no service/product/cpe/tags/...)")
    examples = [_parse_example(e, f"{where} example #{i}")
                for i, e in enumerate(raw.get("examples") or [], 1)]
    if not any(e.expect is not None for e in examples):
        raise _fail(where, "needs at least one example that matches (examples: [{input, "
                           "expect}])")
    return Rule(
        id=rid, fields=tuple(fields), pattern=raw["pattern"], flags=flags, compiled=compiled,
        templates=templates, cpe=cpes, tags=tuple(tags), priority=priority,
        component=component, source=source, examples=examples,
    )


def _parse_example(raw: Any, where: str) -> Example:
    if not isinstance(raw, Mapping) or "input" not in raw:
        raise _fail(where, "an example is a mapping with 'input'")
    unknown = set(raw) - _EXAMPLE_KEYS
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_EXAMPLE_KEYS)}")
    context = raw.get("context") or {}
    if not isinstance(context, Mapping):
        raise _fail(where, "'context' must be a mapping of sections")
    if raw.get("match") is False:
        if "expect" in raw:
            raise _fail(where, "'match: false' and 'expect' exclude each other")
        return Example(input=raw["input"], expect=None, context=dict(context))
    expect = raw.get("expect")
    if not isinstance(expect, Mapping) or not expect:
        raise _fail(where, "needs 'expect: {product: ..., ...}' or 'match: false'")
    unknown = set(expect) - _EXPECT_KEYS
    if unknown:
        raise _fail(where, f"unknown expect key(s) {sorted(unknown)}")
    norm: dict[str, Any] = {}
    for k, v in expect.items():  # YAML reads 6.2 as a float: compare as text
        if k in ("cpe", "tags"):
            v = [v] if isinstance(v, str) else v
            if not isinstance(v, list):
                raise _fail(where, f"expect {k!r} must be a list")
            norm[k] = [str(x) for x in v]
        else:
            norm[k] = None if v is None else str(v)
    return Example(input=raw["input"], expect=norm, context=dict(context))


@dataclass(slots=True)
class RuleFile:
    path: Path
    name: str
    rules: list[Rule]
    aliases: dict[str, str]
    description: str = ""


def load_rule_file(path: str | Path) -> RuleFile:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise RuleError(f"{path}: top level must be a mapping with a 'rules' list")
    unknown = set(doc) - {"rules", "aliases", "description"}
    if unknown:
        raise RuleError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
    aliases = doc.get("aliases") or {}
    if not isinstance(aliases, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()
    ):
        raise RuleError(f"{path}: 'aliases' must map product names to product names")
    rules = [parse_rule(r, f"{path.name} rule #{i}", path.stem)
             for i, r in enumerate(doc["rules"], 1)]
    return RuleFile(path=path, name=path.stem, rules=rules, aliases=dict(aliases),
                    description=str(doc.get("description") or ""))


def rule_files(dirs: list[Path] | None = None) -> list[Path]:
    out: list[Path] = []
    for d in dirs or [RULES_DIR]:
        d = Path(d)
        out.extend(sorted(d.glob("*.yaml")) if d.is_dir() else [d])
    return out


def load_rules(paths: list[Path] | None = None) -> list[RuleFile]:
    """Load rule files (default: the packaged ones); ids must be unique across them."""
    files = [load_rule_file(p) for p in rule_files(paths)]
    seen: dict[str, Path] = {}
    for rf in files:
        for r in rf.rules:
            if r.id in seen:
                raise RuleError(f"{rf.path.name}: rule id {r.id!r} already defined in "
                                f"{seen[r.id].name}")
            seen[r.id] = rf.path
    return files
