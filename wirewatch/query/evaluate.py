"""What an expression means for one story, computed directly on token positions.

The matcher uses this for the few rules it must check in full (NEAR) and for
highlighting; it is also the plain statement of the semantics:

* a leaf is true in a field when its tokens occur there (consecutively, for
  a phrase; as the start of a token, for a prefix);
* an unscoped leaf is true when it is true in either field;
* `A NEAR/n B` is true when, in one field, an occurrence of A and one of B do
  not overlap and have at most n tokens between them, in either order.
"""

from __future__ import annotations

from .expr import FIELDS, And, Expr, Field, Leaf, Near, Not


class FieldView:
    """One field's tokens, joined as " t1 t2 … " so leaves are found with `str.find`."""

    __slots__ = ("tokens", "joined", "_occ")

    def __init__(self, tokens: list[str], joined: str | None = None) -> None:
        self.tokens = tokens
        self.joined = joined if joined is not None else " " + " ".join(tokens) + " "
        self._occ: dict[str, list[int]] = {}

    def occurrences(self, leaf: Leaf) -> list[int]:
        """Token index where each occurrence of `leaf` starts, in order."""
        pattern = leaf.pattern
        found = self._occ.get(pattern)
        if found is None:
            found = []
            joined = self.joined
            at = joined.find(pattern)
            index, counted = 0, 0
            while at >= 0:
                # The n-th space starts the n-th token (0-based: n - 1).
                index += joined.count(" ", counted, at + 1)
                counted = at + 1
                found.append(index - 1)
                at = joined.find(pattern, at + 1)
            self._occ[pattern] = found
        return found

    def has(self, leaf: Leaf) -> bool:
        return leaf.pattern in self.joined


class StoryView:
    __slots__ = ("fields",)

    def __init__(self, title_tokens: list[str], body_tokens: list[str], title_joined=None, body_joined=None) -> None:
        self.fields = {"title": FieldView(title_tokens, title_joined), "body": FieldView(body_tokens, body_joined)}

    def near(self, near: Near) -> bool:
        return any(_near_spans(self.fields[f], near, f, first_only=True) for f in FIELDS)


def _in(leaf: Leaf, field: Field) -> bool:
    return leaf.field is None or leaf.field == field


def evaluate(expr: Expr, story: StoryView) -> bool:
    if isinstance(expr, Leaf):
        return any(story.fields[f].has(expr) for f in FIELDS if _in(expr, f))
    if isinstance(expr, Near):
        return story.near(expr)
    if isinstance(expr, Not):
        return not evaluate(expr.child, story)
    if isinstance(expr, And):
        return all(evaluate(c, story) for c in expr.children)
    return any(evaluate(c, story) for c in expr.children)


def _occurrences(view: FieldView, leaves: tuple[Leaf, ...], field: Field) -> list[tuple[int, int]]:
    spans = []
    for leaf in leaves:
        if _in(leaf, field):
            width = leaf.width
            spans.extend((s, s + width) for s in view.occurrences(leaf))
    return spans


def _near_spans(view: FieldView, near: Near, field: Field, first_only: bool = False) -> list[tuple[int, int]]:
    """Token spans of the occurrences that take part in a qualifying pair."""
    left = _occurrences(view, near.left, field)
    if not left:
        return []
    right = _occurrences(view, near.right, field)
    n = near.distance
    used: set[tuple[int, int]] = set()
    for a in left:
        for b in right:
            if (a[1] <= b[0] and b[0] - a[1] <= n) or (b[1] <= a[0] and a[0] - b[1] <= n):
                if first_only:
                    return [a, b]
                used.add(a)
                used.add(b)
    return sorted(used)


def witnesses(expr: Expr, story: StoryView) -> list[tuple[Field, int, int]] | None:
    """Token spans (field, start, end) of the words that make `expr` true, or None if false.

    Words under a NOT, and in branches of an OR that are false, are not
    witnesses.
    """
    if isinstance(expr, Leaf):
        spans: list[tuple[Field, int, int]] = []
        for f in FIELDS:
            if _in(expr, f):
                spans.extend((f, s, s + expr.width) for s in story.fields[f].occurrences(expr))
        return spans or None
    if isinstance(expr, Near):
        spans = [(f, s, e) for f in FIELDS for s, e in _near_spans(story.fields[f], expr, f)]
        return spans or None
    if isinstance(expr, Not):
        return None if evaluate(expr.child, story) else []
    if isinstance(expr, And):
        out: list[tuple[Field, int, int]] = []
        for c in expr.children:
            w = witnesses(c, story)
            if w is None:
                return None
            out.extend(w)
        return out
    found = [w for w in (witnesses(c, story) for c in expr.children) if w is not None]
    return [s for w in found for s in w] if found else None
