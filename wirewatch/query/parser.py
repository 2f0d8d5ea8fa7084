"""Query text to expression, or a `QueryError` naming the problem and its column.

Grammar, loosest first (the spec's precedence):

    query   := or END
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*          juxtaposition is AND
    unary   := ("NOT" | "-") unary | near
    near    := primary ["NEAR/n" primary]      a second NEAR is an error
    primary := FIELD scoped | scoped
    scoped  := WORD | PHRASE | "(" or ")"

Words are read from the raw query text (operators are case-sensitive), then
each word is normalised and cut into tokens like story text.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..errors import QueryError
from .expr import FIELDS, And, Expr, Leaf, Near, Not, Or, true_when_no_words
from .tokens import has_letter_or_digit, query_tokens

MAX_DISTANCE = 1000
# Parentheses and NOTs inside each other; deeper queries are refused rather
# than allowed to exhaust the interpreter's stack.
MAX_DEPTH = 100
_DELIMITERS = '()"'
# Scanning with these rather than character by character in Python makes
# reading 100,000 rules about twice as fast; `\s` is `str.isspace()` in `re`.
_SPACES = re.compile(r"\s*")
_BARE = re.compile(r'[^\s()"]+')
_FIELD = re.compile(r"[A-Za-z]+:")
_DISTANCE = re.compile(r"[0-9]+")


class _Tok(NamedTuple):
    # A tuple: made ~10 times per query, a frozen dataclass cost more than the lexing.
    kind: str  # WORD PHRASE LP RP AND OR NOT NEAR FIELD END
    column: int
    text: str = ""
    leaf: Leaf | None = None
    distance: int = 0


def parse(query: str) -> Expr:
    """Parse and validate one query; raise `QueryError` if the spec rejects it."""
    if not isinstance(query, str):
        raise QueryError(f"a query must be text, not {type(query).__name__}", None, repr(query))
    toks = _Lexer(query).run()
    expr = _Parser(toks, query).run()
    if true_when_no_words(expr):
        column = _first_not(toks)
        raise QueryError(
            "the query would match stories that contain none of its words "
            "(it is true when every term, phrase and prefix is false); add a word it must contain",
            column,
            query,
        )
    return expr


def _first_not(toks: list[_Tok]) -> int:
    return next((t.column for t in toks if t.kind == "NOT"), 1)


class _Lexer:
    def __init__(self, query: str) -> None:
        self.q = query
        self.out: list[_Tok] = []

    def error(self, message: str, column: int) -> QueryError:
        return QueryError(message, column, self.q)

    def run(self) -> list[_Tok]:
        q, n = self.q, len(self.q)
        i = _SPACES.match(q).end()
        while i < n:
            ch = q[i]
            if ch == "(":
                self.out.append(_Tok("LP", i + 1, ch))
                i += 1
            elif ch == ")":
                self.out.append(_Tok("RP", i + 1, ch))
                i += 1
            elif ch == '"':
                i = self._phrase(i)
            else:
                j = _BARE.match(q, i).end()
                self._word(q[i:j], i + 1, glued=j < n and q[j] in '("')
                i = j
            i = _SPACES.match(q, i).end()
        self.out.append(_Tok("END", n + 1))
        return self.out

    def _phrase(self, i: int) -> int:
        close = self.q.find('"', i + 1)
        if close < 0:
            raise self.error('unbalanced quote: this " is never closed', i + 1)
        inner = self.q[i + 1 : close]
        if close + 1 < len(self.q) and self.q[close + 1] == "~":
            raise self.error('"…"~n is not supported; write the words with NEAR/n between them', close + 2)
        toks = query_tokens(inner)
        if not has_letter_or_digit(toks):
            raise self.error('empty phrase: "…" must hold at least one letter or digit', i + 1)
        self.out.append(_Tok("PHRASE", i + 1, self.q[i : close + 1], Leaf(toks, column=i + 1)))
        return close + 1

    def _word(self, raw: str, column: int, glued: bool) -> None:
        """One whitespace-delimited word; `glued` says a "(" or quote follows it directly."""
        if raw in ("AND", "OR", "NOT"):
            self.out.append(_Tok(raw, column, raw))
            return
        if raw == "NEAR" or raw.startswith("NEAR/"):
            self._near(raw, column)
            return
        if raw.startswith("-"):
            self.out.append(_Tok("NOT", column, "-"))
            if len(raw) > 1:
                self._word(raw[1:], column + 1, glued)
            elif not glued:
                raise self.error("- must be followed directly by a word, a phrase or a group (no space)", column)
            return
        m = _FIELD.match(raw)
        if m:
            name = raw[: m.end() - 1]
            if name.lower() not in FIELDS:
                raise self.error(f"unknown field {name!r}: the fields are title and body", column)
            self.out.append(_Tok("FIELD", column, raw[: m.end()]))
            if m.end() < len(raw):
                self._word(raw[m.end() :], column + m.end(), glued)
            return
        star = raw.find("*")
        if star >= 0:
            if star != len(raw) - 1:
                raise self.error("* is allowed only at the end of a word", column + star)
            stem = query_tokens(raw[:-1])
            if not has_letter_or_digit(stem):
                raise self.error(f"{raw!r} has no letters or digits before the *", column)
            if len(stem) > 1:
                raise self.error(
                    f"a prefix must be a single word, but {raw[:-1]!r} is {len(stem)} words", column
                )
            if len(stem[0]) < 2:
                raise self.error("prefix too short: at least 2 characters must come before the *", column)
            self.out.append(_Tok("WORD", column, raw, Leaf(stem, prefix=True, column=column)))
            return
        toks = query_tokens(raw)
        if not has_letter_or_digit(toks):
            raise self.error(f"{raw!r} has no letters or digits", column)
        self.out.append(_Tok("WORD", column, raw, Leaf(toks, column=column)))

    def _near(self, raw: str, column: int) -> None:
        distance = raw[5:]
        if raw == "NEAR" or not _DISTANCE.fullmatch(distance) or int(distance) > MAX_DISTANCE:
            raise self.error(
                f"NEAR needs a distance that is a whole number from 0 to {MAX_DISTANCE}, as in NEAR/3", column
            )
        self.out.append(_Tok("NEAR", column, raw, distance=int(distance)))


_STARTS_UNARY = ("WORD", "PHRASE", "LP", "NOT", "FIELD")
_NEAR_OPERAND = "NEAR takes terms, phrases or prefixes, or a parenthesised OR of them"


class _Parser:
    def __init__(self, toks: list[_Tok], query: str) -> None:
        self.toks = toks
        self.q = query
        self.i = 0
        self.tok: _Tok = toks[0]
        self.depth = 0

    def _advance(self) -> None:
        # The current token is an attribute, not a property: it is read about
        # twenty times per query.
        self.i += 1
        self.tok = self.toks[self.i]

    def error(self, message: str, column: int) -> QueryError:
        return QueryError(message, column, self.q)

    def run(self) -> Expr:
        if self.tok.kind == "END":
            raise self.error("empty query", 1)
        expr = self._or(None)
        if self.tok.kind == "RP":
            raise self.error("unbalanced parenthesis: this ) has no ( before it", self.tok.column)
        if self.tok.kind != "END":  # pragma: no cover - every token either starts a unary or is handled
            raise self.error(f"unexpected {self.tok.text!r}", self.tok.column)
        return expr

    def _or(self, field: str | None) -> Expr:
        parts = [self._and(field)]
        while self.tok.kind == "OR":
            op = self.tok
            self._advance()
            self._need_operand(op, "after")
            parts.append(self._and(field))
        return parts[0] if len(parts) == 1 else Or(_flatten(parts, Or))

    def _and(self, field: str | None) -> Expr:
        self._need_operand(None, "")
        parts = [self._unary(field)]
        while True:
            if self.tok.kind == "AND":
                op = self.tok
                self._advance()
                self._need_operand(op, "after")
            elif self.tok.kind not in _STARTS_UNARY:
                break
            parts.append(self._unary(field))
        return parts[0] if len(parts) == 1 else And(_flatten(parts, And))

    def _need_operand(self, op: _Tok | None, where: str) -> None:
        tok = self.tok
        if tok.kind in _STARTS_UNARY:
            return
        if op is not None:
            raise self.error(f"{op.text} has nothing {where} it", op.column)
        if tok.kind in ("AND", "OR", "NEAR"):
            raise self.error(f"{tok.text} has nothing before it", tok.column)
        if tok.kind == "RP":
            prev = self.toks[self.i - 1] if self.i else None
            if prev is not None and prev.kind == "LP":
                raise self.error("empty group: () holds nothing", prev.column)
            raise self.error("unbalanced parenthesis: this ) has no ( before it", tok.column)
        raise self.error("the query ends where something was expected", tok.column)

    def _deeper(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the query is nested too deeply (more than {MAX_DEPTH} levels of ( and NOT)", tok.column)

    def _unary(self, field: str | None) -> Expr:
        if self.tok.kind == "NOT":
            op = self.tok
            self._advance()
            if self.tok.kind not in _STARTS_UNARY:
                raise self.error(f"{'NOT' if op.text == 'NOT' else '-'} has nothing after it", op.column)
            self._deeper(op)
            child = self._unary(field)
            self.depth -= 1
            return Not(child, op.column)
        return self._near(field)

    def _near(self, field: str | None) -> Expr:
        start = self.tok
        left = self._primary(field)
        if self.tok.kind != "NEAR":
            return left
        op = self.tok
        self._advance()
        left_leaves = _near_side(left)
        if left_leaves is None:
            raise self.error(_NEAR_OPERAND, start.column)
        if self.tok.kind not in ("WORD", "PHRASE", "LP", "FIELD"):
            if self.tok.kind in ("END", "RP", "OR", "AND"):
                raise self.error(f"{op.text} has nothing after it", op.column)
            raise self.error(_NEAR_OPERAND, self.tok.column)
        right_start = self.tok
        right = self._primary(field)
        right_leaves = _near_side(right)
        if right_leaves is None:
            raise self.error(_NEAR_OPERAND, right_start.column)
        if self.tok.kind == "NEAR":
            raise self.error("NEAR cannot be chained (a NEAR/2 b NEAR/3 c); combine two NEARs with AND", self.tok.column)
        return Near(left_leaves, right_leaves, op.distance)

    def _primary(self, field: str | None) -> Expr:
        tok = self.tok
        if tok.kind == "FIELD":
            if field is not None:
                raise self.error("a field scope inside a field scope", tok.column)
            self._advance()
            if self.tok.kind not in ("WORD", "PHRASE", "LP"):
                if self.tok.kind == "FIELD":
                    raise self.error("a field scope inside a field scope", self.tok.column)
                raise self.error(f"{tok.text} takes a word, a phrase or a parenthesised group", tok.column)
            return self._scoped(tok.text[:-1].lower())
        return self._scoped(field)

    def _scoped(self, field: str | None) -> Expr:
        tok = self.tok
        if tok.kind in ("WORD", "PHRASE"):
            self._advance()
            assert tok.leaf is not None
            return tok.leaf.scoped(field)
        if tok.kind == "LP":
            self._advance()
            if self.tok.kind == "RP":
                raise self.error("empty group: () holds nothing", tok.column)
            if self.tok.kind == "END":
                raise self.error("unbalanced parenthesis: this ( is never closed", tok.column)
            self._deeper(tok)
            inner = self._or(field)
            self.depth -= 1
            if self.tok.kind != "RP":
                raise self.error("unbalanced parenthesis: this ( is never closed", tok.column)
            self._advance()
            return inner
        raise self._unexpected(tok)

    def _unexpected(self, tok: _Tok) -> QueryError:
        if tok.kind == "END":
            return self.error("the query ends where a word, a phrase or a group was expected", tok.column)
        if tok.kind == "RP":
            return self.error("unbalanced parenthesis: this ) has no ( before it", tok.column)
        return self.error(f"{tok.text} cannot come here", tok.column)


def _flatten(parts: list[Expr], kind: type) -> tuple[Expr, ...]:
    out: list[Expr] = []
    for p in parts:
        if isinstance(p, kind):
            out.extend(p.children)  # type: ignore[attr-defined]
        else:
            out.append(p)
    return tuple(out)


def _near_side(e: Expr) -> tuple[Leaf, ...] | None:
    """The leaves of a valid NEAR operand (a leaf or an OR of leaves), else None."""
    if isinstance(e, Leaf):
        return (e,)
    if isinstance(e, Or) and all(isinstance(c, Leaf) for c in e.children):
        return e.children  # type: ignore[return-value]
    return None
