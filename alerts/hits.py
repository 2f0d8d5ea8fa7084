"""Find where a rule's words occur in a story, for previews.

The matching stage sends exact hits with every match; `wirewatch alerts
preview` has only a rule and a story file, so it finds the words of the
query here.  It follows the tokenising of the watch-query spec (NFKC,
case-folded runs of letters, digits and marks; `word*` prefixes; quoted
phrases; `title:`/`body:` scopes) and skips negated words, but does not
evaluate the query: it highlights, it does not decide.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from wirewatch.model import Hit, Story

_FIELDS = ("title", "body")
_OPERATORS = {"AND", "OR", "NOT"}
_LEXEME = re.compile(r'-?"[^"]*"?|\(|\)|[^\s()"]+')
_SCOPE = re.compile(r"^(title|body):", re.IGNORECASE)
_NEAR = re.compile(r"^NEAR/\d+$")


def _is_token_char(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c).startswith("M")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(normalised token, start, end) for each token of `text`, offsets into `text`."""
    out = []
    start = None
    for i, c in enumerate(text):
        if _is_token_char(c):
            if start is None:
                start = i
        elif start is not None:
            out.append((_norm(text[start:i]), start, i))
            start = None
    if start is not None:
        out.append((_norm(text[start:]), start, len(text)))
    return out


@dataclass(frozen=True)
class _Unit:
    words: tuple[str, ...]
    prefix: bool  # the last word is a prefix
    fields: tuple[str, ...]


def _units(query: str) -> list[_Unit]:
    units: list[_Unit] = []
    scopes: list[tuple[str, ...]] = [_FIELDS]
    pending_scope: tuple[str, ...] | None = None
    negate_next = False
    depth_negated: list[bool] = [False]
    for lexeme in _LEXEME.findall(query):
        if lexeme == "(":
            scopes.append(pending_scope or scopes[-1])
            depth_negated.append(negate_next or depth_negated[-1])
            pending_scope, negate_next = None, False
            continue
        if lexeme == ")":
            if len(scopes) > 1:
                scopes.pop()
                depth_negated.pop()
            continue
        if lexeme in _OPERATORS or _NEAR.match(lexeme):
            negate_next = lexeme == "NOT"
            continue
        negated = negate_next or depth_negated[-1]
        negate_next = False
        if lexeme.startswith("-") and len(lexeme) > 1:
            negated, lexeme = True, lexeme[1:]
        scope = pending_scope or scopes[-1]
        pending_scope = None
        m = _SCOPE.match(lexeme)
        if m:
            lexeme = lexeme[m.end():]
            field = (m.group(1).lower(),)
            if not lexeme:
                pending_scope = field  # `title: word` or `title:(…)`
                continue
            scope = field
        if negated:
            continue
        prefix = lexeme.endswith("*") and not lexeme.startswith('"')
        words = tuple(t for t, _, _ in tokens(lexeme.strip('"').rstrip("*")))
        if words:
            units.append(_Unit(words, prefix, scope))
    return units


def guess_hits(query: str, story: Story) -> tuple[Hit, ...]:
    """Spans of `story` where the (non-negated) words of `query` occur."""
    units = _units(query)
    hits: set[Hit] = set()
    for field in _FIELDS:
        toks = tokens(getattr(story, field))
        for unit in units:
            if field not in unit.fields:
                continue
            n = len(unit.words)
            for i in range(len(toks) - n + 1):
                window = toks[i : i + n]
                if all(t[0] == w for t, w in zip(window[:-1], unit.words[:-1], strict=True)):
                    last, want = window[-1][0], unit.words[-1]
                    if last == want or (unit.prefix and last.startswith(want)):
                        hits.add(Hit(field=field, start=window[0][1], end=window[-1][2]))
    return tuple(sorted(hits, key=lambda h: (h.field != "title", h.start, h.end)))
