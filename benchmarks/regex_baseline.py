"""The baseline: every rule as its own compiled regular expression.

A story is written as `normalised title NUL normalised body`, and each rule
becomes one regex of zero-width assertions tried at the start: a leaf is
`(?=.*?word)` (only before the NUL for `title:`, only after it for `body:`),
AND is a run of assertions, OR an alternation, NOT a negative look-ahead and
NEAR `A gap B|B gap A` with the gap at most n whole tokens.  This is how one
would match without a shared index: cost grows with every rule.
"""

from __future__ import annotations

import re

from wirewatch.query import Matcher, parse
from wirewatch.query.expr import FIELDS, And, Expr, Leaf, Near, Not, Or
from wirewatch.query.tokens import _mark_ranges, normalise

_MARKS = _mark_ranges()
TOKEN_CHAR = rf"[\w{_MARKS}]"
SEPARATOR = rf"[^\w{_MARKS}\x00]"
_SCOPE = {None: r".*?", "title": r"[^\x00]*?", "body": r"[^\x00]*\x00.*?"}


def story_text(title: str, body: str) -> str:
    def field(text: str) -> str:
        # "_" separates tokens but is a regex word character; NUL is our field mark.
        return normalise(text).replace("_", " ").replace("\x00", " ")

    return field(title) + "\x00" + field(body)


def _leaf(leaf: Leaf) -> str:
    words = f"{SEPARATOR}+".join(map(re.escape, leaf.tokens))
    tail = f"{TOKEN_CHAR}*" if leaf.prefix else f"(?!{TOKEN_CHAR})"
    return f"(?<!{TOKEN_CHAR}){words}{tail}"


def _assertion(e: Expr) -> str:
    if isinstance(e, Leaf):
        return f"(?={_SCOPE[e.field]}{_leaf(e)})"
    if isinstance(e, And):
        return "".join(map(_assertion, e.children))
    if isinstance(e, Or):
        return "(?:" + "|".join(map(_assertion, e.children)) + ")"
    if isinstance(e, Not):
        return f"(?!{_assertion(e.child)})"
    return _near(e)


def _near(e: Near) -> str:
    gap = f"{SEPARATOR}+(?:{TOKEN_CHAR}+{SEPARATOR}+){{0,{e.distance}}}"
    options = []
    for f in FIELDS:
        left = [_leaf(x) for x in e.left if x.field in (None, f)]
        right = [_leaf(x) for x in e.right if x.field in (None, f)]
        if left and right:
            a, b = "(?:" + "|".join(left) + ")", "(?:" + "|".join(right) + ")"
            options.append(f"(?={_SCOPE[f]}(?:{a}{gap}{b}|{b}{gap}{a}))")
    return "(?:" + "|".join(options) + ")" if options else "(?!)"


def compile_rule(query: str) -> re.Pattern[str]:
    return re.compile(_assertion(parse(query)), re.S)


class RegexMatcher:
    """Same answers as `Matcher.match`, one regex per rule."""

    def __init__(self, rules: list[tuple[str, str]]) -> None:
        self.rules = [(rule_id, compile_rule(query)) for rule_id, query in rules]

    def match(self, title: str, body: str) -> list[str]:
        text = story_text(title, body)
        return sorted(rule_id for rule_id, rx in self.rules if rx.match(text))


__all__ = ["Matcher", "RegexMatcher", "story_text"]
