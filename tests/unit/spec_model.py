"""A brute-force statement of the watch-query spec, independent of wirewatch.query.

Queries are generated here as small trees, written out as query text, and
evaluated directly on token lists cut character by character; the tests
compare that with what the parser and the fast matcher say.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from hypothesis import strategies as st

FIELDS = ("title", "body")


def spec_tokens(text: str) -> list[str]:
    norm = unicodedata.normalize("NFKC", text).casefold()
    out, cur = [], ""
    for ch in norm:
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            cur += ch
        elif cur:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


# -- query trees ------------------------------------------------------------------


@dataclass(frozen=True)
class QLeaf:
    kind: str  # word (one or more tokens), phrase (quoted) or prefix
    text: str  # as written, without quotes or *
    field: str | None = None


@dataclass(frozen=True)
class QField:  # a field scope over a parenthesised group
    field: str
    child: object


@dataclass(frozen=True)
class QAnd:
    children: tuple


@dataclass(frozen=True)
class QOr:
    children: tuple


@dataclass(frozen=True)
class QNot:
    child: object
    dash: bool = False


@dataclass(frozen=True)
class QNear:
    left: tuple  # of QLeaf
    right: tuple
    distance: int


def render(q, rnd_parens=lambda: False) -> str:
    if isinstance(q, QLeaf):
        text = {"word": q.text, "phrase": f'"{q.text}"', "prefix": q.text + "*"}[q.kind]
        return f"{q.field}:{text}" if q.field else text
    if isinstance(q, QField):
        return f"{q.field}:({render(q.child, rnd_parens)})"
    if isinstance(q, QNear):
        return f"{_side(q.left)} NEAR/{q.distance} {_side(q.right)}"
    if isinstance(q, QNot):
        inner = render(q.child, rnd_parens)
        if isinstance(q.child, (QAnd, QOr)) or rnd_parens():
            inner = f"({inner})"
        return ("-" if q.dash else "NOT ") + inner
    if isinstance(q, QAnd):
        parts = []
        for c in q.children:
            s = render(c, rnd_parens)
            parts.append(f"({s})" if isinstance(c, QOr) or rnd_parens() else s)
        return (" " if len(q.children) % 2 else " AND ").join(parts)
    parts = [render(c, rnd_parens) for c in q.children]
    return " OR ".join(f"({p})" if rnd_parens() else p for p in parts)


def _side(leaves) -> str:
    if len(leaves) == 1:
        return render(leaves[0])
    return "(" + " OR ".join(render(x) for x in leaves) + ")"


# -- the spec's meaning ----------------------------------------------------------


def _occurrences(leaf: QLeaf, toks: list[str]) -> list[tuple[int, int]]:
    if leaf.kind == "prefix":
        (p,) = spec_tokens(leaf.text)
        return [(i, i + 1) for i, t in enumerate(toks) if t.startswith(p)]
    want = spec_tokens(leaf.text)
    k = len(want)
    return [(i, i + k) for i in range(len(toks) - k + 1) if toks[i : i + k] == want]


def _fields(own: str | None, scope: str | None) -> tuple[str, ...]:
    f = own or scope
    return (f,) if f else FIELDS


def evaluate(q, story: dict[str, list[str]], scope: str | None = None, words: bool = True) -> bool:
    """`words=False` evaluates with every term, phrase and prefix false."""
    if isinstance(q, QLeaf):
        return words and any(_occurrences(q, story[f]) for f in _fields(q.field, scope))
    if isinstance(q, QField):
        return evaluate(q.child, story, q.field.lower(), words)
    if isinstance(q, QNot):
        return not evaluate(q.child, story, scope, words)
    if isinstance(q, QAnd):
        return all(evaluate(c, story, scope, words) for c in q.children)
    if isinstance(q, QOr):
        return any(evaluate(c, story, scope, words) for c in q.children)
    if not words:
        return False
    for f in FIELDS:
        left = [o for x in q.left if f in _fields(x.field, scope) for o in _occurrences(x, story[f])]
        right = [o for x in q.right if f in _fields(x.field, scope) for o in _occurrences(x, story[f])]
        for a in left:
            for b in right:
                if a[1] <= b[0] and b[0] - a[1] <= q.distance:
                    return True
                if b[1] <= a[0] and a[0] - b[1] <= q.distance:
                    return True
    return False


def rejected_for_matching_nothing(q) -> bool:
    return evaluate(q, {"title": [], "body": []}, words=False)


def story_tokens(title: str, body: str) -> dict[str, list[str]]:
    return {"title": spec_tokens(title), "body": spec_tokens(body)}


# -- generators ------------------------------------------------------------------

WORDS = ["oil", "Oil", "gas", "price", "prices", "OPEC", "cut", "cuts", "aid", "lethal", "deadly", "the",
         "U.S.", "full-scale", "café", "Straße", "strasse", "Xi’s", "10:30", "peace", "talks", "and", "or"]
STEMS = ["pri", "cu", "oi", "stra", "caf", "pe", "talk", "ga"]
FILLER = ["oil", "gas", "price", "prices", "opec", "cut", "cuts", "aid", "lethal", "deadly", "the", "u", "s",
          "full", "scale", "café", "strasse", "xi", "10", "30", "peace", "talks", "and", "military", "quota", "x"]
SEPARATORS = [" ", " ", " ", ", ", ". ", "-", "’", "\n", " (", ") ", "_"]


@st.composite
def leaves(draw, field_ok=True):
    kind = draw(st.sampled_from(["word", "word", "phrase", "prefix"]))
    if kind == "prefix":
        text = draw(st.sampled_from(STEMS))
    elif kind == "phrase":
        text = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)))
    else:
        text = draw(st.sampled_from(WORDS))
    field = draw(st.sampled_from([None, None, "title", "body"])) if field_ok else None
    return QLeaf(kind, text, field)


@st.composite
def queries(draw, depth=3, in_field=False):
    if depth == 0:
        return draw(leaves(field_ok=not in_field))
    choice = draw(st.sampled_from(["leaf", "and", "or", "not", "near", "field"]))
    if choice == "leaf":
        return draw(leaves(field_ok=not in_field))
    if choice in ("and", "or"):
        kids = tuple(draw(st.lists(queries(depth - 1, in_field), min_size=2, max_size=3)))
        return (QAnd if choice == "and" else QOr)(kids)
    if choice == "not":
        return QNot(draw(queries(depth - 1, in_field)), draw(st.booleans()))
    if choice == "near":
        side = st.lists(leaves(field_ok=not in_field), min_size=1, max_size=2).map(tuple)
        return QNear(draw(side), draw(side), draw(st.integers(0, 4)))
    if in_field:
        return draw(queries(depth - 1, in_field))
    return QField(draw(st.sampled_from(["title", "body", "TITLE", "Body"])), draw(queries(depth - 1, True)))


@st.composite
def stories(draw):
    def text():
        words = draw(st.lists(st.sampled_from(FILLER + ["Oil", "OPEC", "U.S.", "Straße", "ﬁne", "ＯＩＬ"]), max_size=14))
        seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words), max_size=len(words)))
        return "".join(w + s for w, s in zip(words, seps))

    return text(), text()
