"""Solr (Lucene) query syntax as CKAN clients send it in ``q`` and ``fq``.

A tokenizer and a recursive-descent parser build a small tree; ``evaluate`` walks it
with a leaf predicate the caller supplies, so field meanings live with the catalog
(``ckan_search.py``) and no request text ever reaches a query engine. Grammar, as Solr's
standard parser with CKAN's ``q.op=AND``::

    query   := or EOF
    or      := and (("OR" | "||") and)*
    and     := unary (("AND" | "&&")? unary)*      -- juxtaposition is AND
    unary   := ("NOT" | "!" | "-") unary | "+" unary | primary
    primary := "(" or ")" | "*:*" | FIELD ":" value | value
    value   := TERM | "PHRASE" | "[" lo TO hi "]" | "{" lo TO hi "}" | "(" or ")"

Luqum (the PyPI Lucene parser) was considered: it needs PLY (no release since 2018),
its module-level lexer is not thread-safe (our web page searches from a thread pool),
and it accepts fuzzy, boost, regex and proximity queries we would have to walk and
refuse anyway. This grammar is ~200 lines and refuses those at the token.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

# Nesting of "(" and NOT prefixes. 32 is far past any hand-written query, and keeps the
# parser and the evaluator well inside Python's recursion limit (a 1,000-character
# query could otherwise nest 500 deep).
MAX_DEPTH = 32
MAX_LENGTH = 1000
_SPECIAL = set('()[]{}":')
_UNSUPPORTED = {"*": "wildcards", "?": "wildcards", "~": "fuzzy or proximity", "^": "boosts"}


class QueryError(ValueError):
    def __init__(self, message: str, position: int | None = None) -> None:
        where = "" if position is None else f"at character {position + 1}: "
        super().__init__(where + message)
        self.position = position


@dataclass(frozen=True)
class Term:
    field: str | None  # None: the default text fields
    value: str
    phrase: bool = False


@dataclass(frozen=True)
class Range:
    field: str
    low: str | None  # None: open ("*")
    high: str | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class All:
    pass


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Range | All | Not | And | Or
Leaf = Term | Range


@dataclass(frozen=True)
class Token:
    kind: str  # ( ) AND OR NOT + - TERM PHRASE RANGE FIELD EOF
    text: str
    pos: int
    bad: str | None = None  # first unsupported character of a TERM, unescaped
    extra: tuple = ()  # RANGE: (low, high, include_low, include_high)


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(Token(c, c, i))
            i += 1
        elif c == '"':
            value, i = _phrase(text, i)
            out.append(Token("PHRASE", value, i))
        elif c in "[{":
            token = _range(text, i)
            out.append(token)
            i += len(token.text)
        elif text.startswith(("&&", "||"), i):
            out.append(Token("AND" if c == "&" else "OR", c * 2, i))
            i += 2
        elif c in "+-!" and nxt and not nxt.isspace() and nxt != ")":
            out.append(Token("NOT" if c == "!" else c, c, i))
            i += 1
        elif c in _SPECIAL:
            raise QueryError(f"unexpected {c!r}", i)
        else:
            token, i = _term(text, i)
            out.append(token)
    out.append(Token("EOF", "", n))
    return out


def _phrase(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1
    raise QueryError("unterminated quoted phrase", start)


def _range(text: str, start: int) -> Token:
    # Solr lets the brackets differ: {a TO b] excludes a, includes b.
    ends = [i for i in (text.find("]", start), text.find("}", start)) if i >= 0]
    if not ends:
        raise QueryError("range not closed with ']' or '}'", start)
    end = min(ends)
    parts = text[start + 1 : end].split()
    if len(parts) != 3 or parts[1] != "TO":
        raise QueryError("a range is written [low TO high] (* for open)", start)
    low, high = (None if p == "*" else p.strip('"') for p in (parts[0], parts[2]))
    bounds = (low, high, text[start] == "[", text[end] == "]")
    return Token("RANGE", text[start : end + 1], start, extra=bounds)


def _term(text: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    bad: str | None = None
    i = start
    while i < len(text) and not text[i].isspace() and text[i] not in _SPECIAL:
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise QueryError("a backslash must escape a character", i)
            chars.append(text[i + 1])
            i += 2
            continue
        if c in _UNSUPPORTED and bad is None:
            bad = c
        chars.append(c)
        i += 1
    word = "".join(chars)
    if i < len(text) and text[i] == ":":
        if text[start:i] != word or bad not in (None, "*"):
            raise QueryError(f"{text[start:i]!r} is not a field name", start)
        return Token("FIELD", word, start), i + 1
    if word in ("AND", "OR", "NOT") and text[start:i] == word:
        return Token(word, word, start), i
    return Token("TERM", word, start, bad=bad), i


class _Parser:
    def __init__(self, tokens: list[Token], fields: Collection[str], ranges: Collection[str]):
        self.tokens = tokens
        self.at = 0
        self.depth = 0
        self.fields = fields
        self.ranges = ranges

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_(None)
        token = self.peek()
        if token.kind != "EOF":
            raise QueryError(f"unexpected {token.text!r}", token.pos)
        return node

    def or_(self, field: str | None) -> Node:
        nodes = [self.and_(field)]
        while self.peek().kind == "OR":
            self.take()
            nodes.append(self.and_(field))
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self, field: str | None) -> Node:
        nodes = [self.unary(field)]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in ("(", "NOT", "+", "-", "TERM", "PHRASE", "RANGE", "FIELD"):
                break
            nodes.append(self.unary(field))
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self, field: str | None) -> Node:
        token = self.peek()
        if token.kind in ("NOT", "-"):
            self.take()
            with_depth = self.deeper(token)
            node = Not(self.unary(field))
            self.depth = with_depth
            return node
        while self.peek().kind == "+":  # required is the default (q.op=AND): a no-op
            self.take()
        return self.primary(field)

    def deeper(self, token: Token) -> int:
        before = self.depth
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"nested more than {MAX_DEPTH} deep", token.pos)
        return before

    def primary(self, field: str | None) -> Node:
        token = self.take()
        if token.kind == "(":
            before = self.deeper(token)
            node = self.or_(field)
            close = self.take()
            if close.kind != ")":
                raise QueryError("missing ')'", close.pos)
            self.depth = before
            return node
        if token.kind == "FIELD":
            return self.fielded(token)
        if token.kind == "PHRASE":
            return Term(field, token.text, phrase=True)
        if token.kind == "RANGE":
            if field is None or field not in self.ranges:
                raise QueryError(f"ranges only on {', '.join(self.ranges)}", token.pos)
            return Range(field, *token.extra)
        if token.kind == "TERM":
            if token.text == "*" and field is None:
                return All()
            if token.bad is not None:
                feature = _UNSUPPORTED[token.bad]
                raise QueryError(f"{feature} ({token.bad!r}) are not supported", token.pos)
            return Term(field, token.text)
        what = "end of query" if token.kind == "EOF" else repr(token.text)
        raise QueryError(f"expected a term, a phrase or '(' but found {what}", token.pos)

    def fielded(self, token: Token) -> Node:
        value = self.peek()
        if token.text == "*":
            if value.kind == "TERM" and value.text == "*":
                self.take()
                return All()
            raise QueryError("only *:* may use the field '*'", token.pos)
        if token.text not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise QueryError(f"unknown field {token.text!r}; fields: {known}", token.pos)
        if value.kind not in ("TERM", "PHRASE", "RANGE", "("):
            raise QueryError(f"{token.text}: needs a value", value.pos)
        return self.primary(token.text)


def parse(text: str, *, fields: Collection[str], ranges: Collection[str] = ()) -> Node:
    """The tree of ``text``; empty text is ``*:*``. Raises QueryError, never anything else."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if not text.strip():
        return All()
    return _Parser(tokenize(text), fields, ranges).parse()


def evaluate(node: Node, leaf: Callable[[Leaf], bool]) -> bool:
    match node:
        case All():
            return True
        case Not(inner):
            return not evaluate(inner, leaf)
        case And(nodes):
            return all(evaluate(n, leaf) for n in nodes)
        case Or(nodes):
            return any(evaluate(n, leaf) for n in nodes)
        case _:
            return leaf(node)


def positive_leaves(node: Node) -> list[Leaf]:
    """Leaves not under a NOT: what a match can be scored on."""
    match node:
        case All() | Not():
            return []
        case And(nodes) | Or(nodes):
            return [leaf for n in nodes for leaf in positive_leaves(n)]
        case _:
            return [node]


def leaves(node: Node) -> list[Leaf]:
    match node:
        case All():
            return []
        case Not(inner):
            return leaves(inner)
        case And(nodes) | Or(nodes):
            return [leaf for n in nodes for leaf in leaves(n)]
        case _:
            return [node]
