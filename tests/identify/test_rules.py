"""The rule set tests itself: every example of every rule file must hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netatlas.identify import Identifier, RuleError, load_rule_file, load_rules
from netatlas.identify.rules import RULES_DIR, Example, Rule
from netatlas.model import GrabResult

FILES = load_rules()
RULES = [r for rf in FILES for r in rf.rules]
CASES = [
    pytest.param(rule, ex, id=f"{rule.id}#{i}")
    for rule in RULES for i, ex in enumerate(rule.examples, 1)
]


def test_every_file_has_rules() -> None:
    names = {rf.name for rf in FILES}
    assert {"http", "ssh", "ftp", "smtp", "databases", "tls", "generic"} <= names
    assert all(rf.rules for rf in FILES)


@pytest.mark.parametrize(("rule", "ex"), CASES)
def test_example(rule: Rule, ex: Example) -> None:
    cand = rule.apply(ex.input, ex.context)
    if ex.expect is None:
        assert cand is None, f"{rule.id} must not match {ex.input!r}"
        return
    assert cand is not None, f"{rule.id} does not match its example {ex.input!r}"
    for key, want in ex.expect.items():
        got = getattr(cand, key)
        if key == "tags":
            got, want = sorted(got), sorted(want)
        assert got == want, f"{rule.id}: {key} is {got!r}, example expects {want!r}"


def _place(rule: Rule, value: Any) -> GrabResult:
    """A grab result holding ``value`` at the rule's (first) field."""
    path = rule.fields[0]
    if path == "data":
        return GrabResult(data=str(value).encode("latin-1"))
    if path == "tls":
        return GrabResult(tls=bool(value))
    if path.startswith("responses."):
        return GrabResult(responses={path.split(".", 1)[1]: str(value).encode("latin-1")})
    sections: dict[str, Any] = {}
    cur = sections
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    cur[keys[-1]] = value
    return GrabResult(sections=sections)


@pytest.fixture(scope="module")
def ident() -> Identifier:
    return Identifier(nmap=None)


@pytest.mark.parametrize(("rule", "ex"), [c for c in CASES if c.values[1].expect is not None])
def test_example_through_engine(ident: Identifier, rule: Rule, ex: Example) -> None:
    """The field path really reaches the rule: the engine's index runs it."""
    result = _place(rule, ex.input)
    ids = {c.rule_id for c in ident.candidates(result)}
    assert rule.id in ids


def test_one_product_name_per_cpe() -> None:
    """Facets must not split: a vendor:product CPE always comes with one product name."""
    seen: dict[str, tuple[str, str]] = {}
    for r in RULES:
        product = r.templates.get("product")
        if not product or "$" in product:
            continue
        own = [c for c in r.cpe if c.startswith("cpe:/a:")][:1]  # the product's own CPE
        for c in own:
            key = ":".join(c.split(":")[2:4])
            if key in seen:
                assert seen[key][0] == product, f"{r.id} vs {seen[key][1]} for {key}"
            seen[key] = (product, r.id)


def test_required_products_covered() -> None:
    products = {r.templates.get("product") for r in RULES}
    required = {
        "nginx", "Apache httpd", "lighttpd", "Microsoft IIS httpd", "Caddy", "OpenResty",
        "Apache Tomcat", "Jetty", "gunicorn", "uvicorn", "Werkzeug", "Tornado", "OpenSSH",
        "Dropbear", "libssh", "vsftpd", "ProFTPD", "Pure-FTPd", "FileZilla Server", "Exim",
        "Postfix", "OpenSMTPD", "Sendmail", "Redis", "memcached", "PostgreSQL", "MySQL",
        "MariaDB",
    }
    assert required <= products, required - products


def test_packaged_dir() -> None:
    assert RULES_DIR.is_dir() and sorted(RULES_DIR.glob("*.yaml"))


# -- schema errors are clear -------------------------------------------------------

GOOD = """
rules:
  - id: t.x
    field: http.server
    pattern: '^x/(\\d+)'
    product: X
    version: $1
    examples:
      - input: x/1
        expect: {product: X, version: "1"}
"""


def _write(tmp_path: Path, text: str, name: str = "t.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_file_loads(tmp_path: Path) -> None:
    rf = load_rule_file(_write(tmp_path, GOOD))
    assert [r.id for r in rf.rules] == ["t.x"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    product: X\n", "    prodcut: X\n", "unknown key(s) ['prodcut']"),
        ("'^x/(\\d+)'", "'^x/(\\d+'", "pattern does not compile"),
        ("version: $1", "version: $2", "uses $2 but the pattern has 1 group"),
        ("    field: http.server\n", "", "'field' must be a dotted path"),
        ("    product: X\n", "    product: X\n    cpe: nginx\n", "is not a CPE 2.2 URI"),
        ("    product: X\n", "    product: X\n    flags: q\n", "unknown flag 'q'"),
        ("        expect: {product: X, version: \"1\"}\n", "        match: false\n",
         "needs at least one example that matches"),
        ("expect: {product: X", "expect: {produkt: X", "unknown expect key(s) ['produkt']"),
        ("    product: X\n", "    product: X\n    tags: web\n", "'tags' must be a list"),
    ],
)
def test_schema_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(RuleError) as err:
        load_rule_file(path)
    text = str(err.value)
    assert message in text
    assert "t.yaml" in text and "rule #1" in text


def test_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not valid YAML"):
        load_rule_file(_write(tmp_path, "rules: [\n"))


def test_top_level_shape(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="'rules' list"):
        load_rule_file(_write(tmp_path, "- id: x\n"))


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(RuleError, match=r"'t\.x' already defined in a\.yaml"):
        load_rules([tmp_path])


def test_failing_example_is_caught(tmp_path: Path) -> None:
    """The self-test above would fail on a wrong example: prove it can."""
    rf = load_rule_file(_write(tmp_path, GOOD.replace('version: "1"}', 'version: "2"}')))
    rule = rf.rules[0]
    cand = rule.apply(rule.examples[0].input)
    assert cand is not None and cand.version != rule.examples[0].expect["version"]
