"""Text -> Query: lark parses (grammar.lark), then each term is checked and typed
against the field registry. Every failure is a QuerySyntaxError with a column."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import values as V
from .ast import And, Glob, Node, Not, Or, Query, Term, Text
from .errors import QuerySyntaxError
from .fields import Field, close_matches, lookup

MAX_LENGTH = 4096  # characters
MAX_TERMS = 200  # words, phrases and field values together
MAX_DEPTH = 32  # nesting of parentheses and NOT

_CMP = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}

# Terminal names -> words for people, in the order they are listed.
_HUMAN = {
    "VALUE": "a value",
    "STRING": "a quoted string",
    "CMP_OP": "a comparison (>, >=, <, <=)",
    "_LSQB": "a range [low TO high]",
    "BOUND": "a range bound",
    "_TO": '"TO"',
    "_RSQB": '"]"',
    "FIELD": "a field (like port:)",
    "WORD": "a word",
    "_LPAR": '"("',
    "_NEG": '"-"',
    "_NOT": '"NOT"',
    "_AND": '"AND"',
    "_OR": '"OR"',
    "_COMMA": '","',
    "_RPAR": '")"',
    "$END": "the end of the query",
}
# What a value of each type looks like, for QuerySyntaxError.expected.
_EXPECT = {
    "int": ["a whole number", "a range like 1000-2000"],
    "date": ["a date like 2026-01-31", "an ISO time like 2026-01-31T12:00:00Z"],
    "version": ["a version like 8.0"],
    "ip": ["an IP address", "a CIDR network"],
    "net": ["a CIDR network like 127.20.0.0/24"],
    "bool": ["true", "false"],
    "severity": ["info", "low", "medium", "high", "critical"],
    "str": ["a quoted value"],
}
_VALUE_KINDS = {"VALUE", "STRING", "CMP_OP", "_LSQB"}
_BOUND_KINDS = {"BOUND", "STRING"}
_TERM_KINDS = {"FIELD", "WORD", "STRING", "_LPAR", "_NEG", "_NOT"}


@cache
def _lark() -> Lark:
    grammar = resources.files("netatlas.query").joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


def parse(text: str) -> Query:
    """Parse a search. ``""`` (or only blanks) is the empty query: everything."""
    if not isinstance(text, str):
        raise TypeError(f"query must be str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(
            f"query too long (at most {MAX_LENGTH} characters)", text, MAX_LENGTH + 1
        )
    if not text.strip():
        return Query(None, text)
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    if not tree.children:
        return Query(None, text)
    return Query(_Builder(text).node(tree.children[0], 0), text)


# -- syntax errors ------------------------------------------------------------------
def _describe(kinds: set[str]) -> list[str]:
    kinds = set(kinds)
    out: list[str] = []
    if kinds >= _TERM_KINDS:
        kinds -= _TERM_KINDS
        out.append("a search term")
    out += [_HUMAN[k] for k in _HUMAN if k in kinds]
    out += sorted(k for k in kinds if k not in _HUMAN)
    return out


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _what(kinds: set[str]) -> str:
    if kinds <= _VALUE_KINDS:
        return "a value"
    if kinds <= _BOUND_KINDS:
        return "a range bound"
    if kinds <= _TERM_KINDS:
        return "a search term"
    return _join(_describe(kinds)) if kinds else "something else"


def _before(text: str, column: int) -> str:
    """The chunk of query just before ``column``, for 'after "port:"'."""
    head = text[: column - 1].rstrip()
    if not head:
        return ""
    chunk = head.split()[-1]
    return chunk if len(chunk) <= 30 else "…" + chunk[-29:]


def _syntax_error(exc: UnexpectedInput, text: str) -> QuerySyntaxError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0  # always set by the lexer
        col = pos + 1
        ch = text[pos]
        if ch == '"':
            return QuerySyntaxError(
                'unterminated quoted string (no closing ")', text, col, ['a closing quote (")']
            )
        kinds = set(exc.allowed or ())
        return QuerySyntaxError(
            f"unexpected character {ch!r}: expected {_what(kinds)}", text, col, _describe(kinds)
        )
    if isinstance(exc, UnexpectedToken):
        kinds = set(exc.expected)
        tok = exc.token
        at_end = tok.type == "$END"
        col = len(text.rstrip()) + 1 if at_end else (tok.start_pos or 0) + 1
        expected = _describe(kinds)
        if kinds == {"$END"} and tok.type == "_RPAR":
            return QuerySyntaxError('unexpected ")" with no "(" to close', text, col, expected)
        prev = _before(text, col)
        msg = f"expected {_what(kinds)}"
        if prev:
            msg += f' after "{prev}"'
        if not at_end:
            msg += f', found "{V._short(str(tok))}"'
        return QuerySyntaxError(msg, text, col, expected)
    col = (getattr(exc, "pos_in_stream", None) or len(text)) + 1
    return QuerySyntaxError("unexpected end of query", text, col)


# -- tree -> AST ------------------------------------------------------------------------
def _tok(item: Tree | Token) -> Token:
    """A leaf the grammar guarantees is a token (a value, an operator)."""
    if not isinstance(item, Token):
        raise TypeError(f"expected a token, got {item!r}")
    return item


def _col(item: Tree | Token) -> int:
    if isinstance(item, Token):
        return (item.start_pos or 0) + 1
    return (getattr(item.meta, "start_pos", 0) or 0) + 1


class _Builder:
    def __init__(self, text: str) -> None:
        self.text = text
        self.terms = 0

    def error(self, message: str, at: Tree | Token | int, expected: list[str] | None = None
              ) -> QuerySyntaxError:
        col = at if isinstance(at, int) else _col(at)
        return QuerySyntaxError(message, self.text, col, expected)

    def count(self, at: Tree | Token) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"too many search terms (at most {MAX_TERMS})", at)

    def node(self, t: Tree | Token, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.error(f"query nested too deeply (at most {MAX_DEPTH} levels)", t)
        assert isinstance(t, Tree), t
        kind = t.data
        if kind == "or_expr":
            return Or(self._flat(Or, t.children, depth))
        if kind == "and_expr":
            return And(self._flat(And, t.children, depth))
        if kind == "negation":
            child = self.node(t.children[0], depth + 1)
            return child.child if isinstance(child, Not) else Not(child)
        if kind == "word":
            self.count(t)
            word = str(t.children[0])
            stem = word.rstrip("*")
            return Text(stem, prefix=bool(stem) and stem != word)
        if kind == "phrase":
            self.count(t)
            return Text(V.as_text(V.unquote(str(t.children[0]), quoted=True)))
        if kind == "term":
            return self.term(t)
        raise AssertionError(f"unknown rule {kind}")  # grammar and builder disagree

    def _flat(self, cls: type[And] | type[Or], items: list[Any], depth: int
              ) -> tuple[Node, ...]:
        out: list[Node] = []
        for item in items:
            n = self.node(item, depth + 1)
            out.extend(n.children if isinstance(n, cls) else (n,))
        return tuple(out)

    # -- field:value ---------------------------------------------------------------
    def term(self, t: Tree) -> Node:
        name_tok, value = t.children
        name = str(name_tok)[:-1]
        f = lookup(name)
        if f is None:
            near = close_matches(name)
            hint = f"; did you mean {_join([f'{n}:' for n in near])}?" if near else (
                " (netatlas search --help-fields lists them)")
            raise self.error(f'unknown field "{V._short(name)}"{hint}', name_tok,
                             [f"{n}:" for n in near] or ["a known field"])
        try:
            return self._value(f, value)
        except _ValueAt as exc:
            kind = f.element_type if f.type == "list" else f.type
            raise self.error(f"{f.name}: {exc.message}", exc.at, _EXPECT.get(kind)) from None

    def _value(self, f: Field, value: Tree) -> Node:
        kind = value.data
        if f.implied_op is not None:
            return self._implied(f, value)
        if kind == "compare":
            op_tok, scalar = map(_tok, value.children)
            self.count(scalar)
            if f.type in ("str", "bool", "net") or (
                f.type == "list" and f.element_type == "str"
            ):
                raise _ValueAt(
                    f"{f.type} values cannot be compared with {op_tok} "
                    '(put a value that starts with < or > in quotes)', op_tok)
            v = self._scalar(f, scalar, ordered=True)
            op = _CMP[str(op_tok)]
            if f.type == "date":  # a bare date is a whole day: > 2026-01-01 is from the 2nd
                start, end = v
                v = end if op in ("gt", "le") else start
                op = {"gt": "ge", "le": "lt"}.get(op, op)
            return Term(f.name, op, (v,), _col(scalar))  # type: ignore[arg-type]
        if kind == "range":
            lo_tok, hi_tok = map(_tok, value.children)
            self.count(lo_tok)
            return self._range(f, lo_tok, hi_tok, _col(lo_tok))
        # alternatives: any of the listed values
        eq: list[Any] = []
        others: list[Node] = []
        for scalar in map(_tok, value.children):
            self.count(scalar)
            others.extend(self._alternative(f, scalar, eq))
        col = _col(value.children[0])
        nodes = ([Term(f.name, "eq", tuple(eq), col)] if eq else []) + others
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def _alternative(self, f: Field, scalar: Token, eq: list[Any]) -> list[Node]:
        quoted = scalar.type == "STRING"
        raw = V.unquote(str(scalar), quoted)
        col = _col(scalar)
        if isinstance(raw, Glob) and f.type in ("str", "version", "list", "ip") and not (
            f.type == "list" and f.element_type != "str"
        ):
            pattern = raw if f.normalize is None else Glob(f.normalize(raw.pattern))
            return [Term(f.name, "glob", (pattern,), col)]
        text = V.as_text(raw)
        if f.type == "int" and not quoted:
            span = _guard(lambda s: V.parse_int_range(s, f.bounds), text, scalar)
            if span is not None:
                for n in span:
                    _within(f, n, scalar)
                return [Term(f.name, "range", span, col)]
        if f.type == "date":
            start, end = _guard(V.parse_date, text, scalar)
            return [And((Term(f.name, "ge", (start,), col), Term(f.name, "lt", (end,), col)))]
        if f.type == "bool" and len(eq) + 1 > 1:
            raise _ValueAt("true or false, not a list", scalar)
        eq.append(self._scalar(f, scalar, ordered=False))
        return []

    def _range(self, f: Field, lo_tok: Token, hi_tok: Token, col: int) -> Node:
        if f.type in ("str", "bool", "net") or (f.type == "list" and f.element_type == "str"):
            raise _ValueAt(f"{f.type} values have no ranges", lo_tok)
        lo = None if str(lo_tok) == "*" else self._scalar(f, lo_tok, ordered=True)
        hi = None if str(hi_tok) == "*" else self._scalar(f, hi_tok, ordered=True)
        if f.type == "date":  # [day TO day] includes the whole last day
            parts = []
            if lo is not None:
                parts.append(Term(f.name, "ge", (lo[0],), col))
            if hi is not None:
                parts.append(Term(f.name, "lt", (hi[1],), col))
            if not parts:
                return Term(f.name, "range", (None, None), col)
            return parts[0] if len(parts) == 1 else And(tuple(parts))
        return Term(f.name, "range", (lo, hi), col)

    def _implied(self, f: Field, value: Tree) -> Node:
        if value.data != "alternatives" or len(value.children) != 1:
            raise _ValueAt("takes one date, like 2026-01-31", value)
        scalar = _tok(value.children[0])
        self.count(scalar)
        text = V.as_text(V.unquote(str(scalar), scalar.type == "STRING"))
        start, _ = _guard(V.parse_date, text, scalar)
        assert f.implied_op is not None  # only date fields with an implied op get here
        # Both compare with the start: before: excludes the day named, after: includes it.
        return Term(f.name, f.implied_op, (start,), _col(scalar))

    def _scalar(self, f: Field, tok: Token, ordered: bool) -> Any:
        """One value typed for ``f`` (``ordered``: it will be compared)."""
        text = V.as_text(V.unquote(str(tok), tok.type == "STRING"))
        t = f.type
        if t == "list":
            if f.element_type == "severity":
                return _guard(V.parse_severity, text, tok)
            return text
        if t == "int":
            n = _guard(lambda s: V.parse_int(s, f.bounds), text, tok)
            _within(f, n, tok)
            return n
        if t == "date":
            return _guard(V.parse_date, text, tok)
        if t == "version" and f.bounds is not None:  # a score: cvss
            bounds = f.bounds
            return _guard(lambda s: V.parse_score(s, bounds), text, tok)
        if t == "version":
            return _guard(V.parse_version, text, tok) if ordered else text
        if t == "ip":
            if ordered and "/" in text:
                raise _ValueAt("compare with an address, not a network", tok)
            return _guard(V.parse_ip, text, tok)
        if t == "net":
            return _guard(V.parse_net, text, tok)
        if t == "bool":
            return _guard(V.parse_bool, text, tok)
        return f.normalize(text) if f.normalize else text


class _ValueAt(Exception):
    def __init__(self, message: str, at: Tree | Token) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


def _within(f: Field, n: int, at: Token) -> None:
    try:
        V.check_bounds(n, f.bounds)
    except ValueError as exc:
        raise _ValueAt(str(exc), at) from None


def _guard(fn: Any, text: str, at: Token) -> Any:
    try:
        return fn(text)
    except ValueError as exc:
        raise _ValueAt(str(exc), at) from None
