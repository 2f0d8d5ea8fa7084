"""The compiled rule index (`_native`, built from `native/` in Rust when a Rust toolchain is present).

Python keeps what needs the spec's own definitions: parsing, tokens (Python's
Unicode tables), negation normal form and the choice of anchors.  Each rule
goes to the core as plain data:

* leaves: `(kind, tokens, fields)` with kind 0 term, 1 phrase, 2 prefix, and
  fields 1 title, 2 body, 3 either;
* NEARs: `(left leaves, right leaves, distance)`;
* a postfix program over them: `op << 24 | argument`, op 0 leaf, 1 NEAR,
  2 NOT, 3 AND of the last n values, 4 OR of the last n;
* anchors: leaves one of which is true whenever the rule is (see
  `anchors.py`; a NEAR is anchored by the leaves of its rarer side), and
  what else decides the rule once an anchor is found (`_decide`).

`available()` says whether the core was built; otherwise `Matcher` uses the
pure-Python index, which gives the same answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .anchors import anchors
from .expr import And, Expr, Leaf, Near, Not, Or

try:
    from . import _native  # type: ignore[attr-defined]
except ImportError:  # not built: no Rust toolchain when installed
    _native = None

TERM, PHRASE, PREFIX = 0, 1, 2
OP_LEAF, OP_NEAR, OP_NOT, OP_AND, OP_OR = 0, 1, 2, 3, 4
EVAL, EXACT, AND, AND_NOT, AND_EITHER, NEAR = 0, 1, 2, 3, 4, 5
_FIELDS = {"title": 1, "body": 2, None: 3}


def available() -> bool:
    return _native is not None


# Kafka's key hash (for a key's partition), compiled; None when the core is not built.
murmur2: Callable[[bytes], int] | None = _native.murmur2 if _native is not None else None


LeafSpec = tuple[int, list[str], int]
NearSpec = tuple[list[int], list[int], int]
RuleSpec = tuple[list[LeafSpec], list[NearSpec], list[int], list[int], tuple[int, int, int]]


def rule_spec(nnf: Expr) -> RuleSpec:
    """(leaves, NEARs, program, anchors, decide) for a rule in negation normal form."""
    leaves: list[LeafSpec] = []
    numbers: dict[Leaf, int] = {}
    nears: list[NearSpec] = []
    program: list[int] = []

    def leaf(e: Leaf) -> int:
        n = numbers.get(e)
        if n is None:
            kind = PREFIX if e.prefix else TERM if len(e.tokens) == 1 else PHRASE
            n = numbers[e] = len(leaves)
            leaves.append((kind, list(e.tokens), _FIELDS[e.field]))
        return n

    def emit(e: Expr) -> None:
        if isinstance(e, Leaf):
            program.append(OP_LEAF << 24 | leaf(e))
        elif isinstance(e, Near):
            nears.append(([leaf(x) for x in e.left], [leaf(x) for x in e.right], e.distance))
            program.append(OP_NEAR << 24 | len(nears) - 1)
        elif isinstance(e, Not):
            emit(e.child)
            program.append(OP_NOT << 24)
        else:
            for c in e.children:  # type: ignore[union-attr]
                emit(c)
            program.append((OP_AND if isinstance(e, And) else OP_OR) << 24 | len(e.children))  # type: ignore[union-attr]

    emit(nnf)
    chosen = anchors(nnf, nears_as_leaves=True)
    if chosen is None:  # pragma: no cover - parse() rejects every such query
        raise ValueError("the query has no word it must contain")
    anchor_leaves = list(dict.fromkeys(leaf(x) for x in chosen[1]))  # type: ignore[arg-type]
    return leaves, nears, program, anchor_leaves, _decide(nnf, anchor_leaves, leaf)


def _leaves_of(e: Expr) -> list[Leaf] | None:
    """The leaves of a leaf or an OR of leaves (true exactly when one of them is); else None."""
    if isinstance(e, Leaf):
        return [e]
    if isinstance(e, Or) and all(isinstance(c, Leaf) for c in e.children):
        return list(e.children)  # type: ignore[arg-type]
    return None


def _decide(nnf: Expr, anchor_leaves: list[int], leaf: Callable[[Leaf], int]) -> tuple[int, int, int]:
    """What makes the rule true once one of its anchors is found: (mode, x, y).

    The common shapes are decided in the posting itself, without the rule's
    program: an OR of leaves (the anchors) is true outright; `a AND b`,
    `a AND NOT b` and `a AND (b OR c)`, anchored by the leaves of `a`, on
    `b`, `c`; a NEAR of two leaves on where the other one is (y = distance).
    """
    anchored = set(anchor_leaves)
    found = _leaves_of(nnf)
    if found is not None and set(map(leaf, found)) == anchored:
        return EXACT, 0, 0
    if isinstance(nnf, Near) and len(nnf.left) == 1 and len(nnf.right) == 1:
        left, right = leaf(nnf.left[0]), leaf(nnf.right[0])
        if anchored == {left}:
            return NEAR, right, nnf.distance
        if anchored == {right}:
            return NEAR, left, nnf.distance
    if isinstance(nnf, And) and len(nnf.children) == 2:
        for first, second in (nnf.children, nnf.children[::-1]):
            found = _leaves_of(first)
            if found is None or set(map(leaf, found)) != anchored:
                continue
            if isinstance(second, Leaf):
                return AND, leaf(second), 0
            if isinstance(second, Not) and isinstance(second.child, Leaf):
                return AND_NOT, leaf(second.child), 0
            either = _leaves_of(second)
            if either is not None and len(either) == 2:
                return AND_EITHER, leaf(either[0]), leaf(either[1])
    return EVAL, 0, 0


class NativeIndex:
    """The rules of a `Matcher` in the compiled core; same methods as `pyindex.PythonIndex`."""

    def __init__(self, cached_tokens: int | None = None) -> None:
        if _native is None:
            raise RuntimeError("the compiled matcher core (wirewatch.query._native) is not built")
        self._core: Any = _native.Index() if cached_tokens is None else _native.Index(cached_tokens)
        self._slot: dict[str, int] = {}
        # Straight to the core: one Python call fewer per story.
        self.match = self._core.match

    def add(self, rule_id: str, nnf: Expr) -> None:
        self.add_all([(rule_id, nnf)])

    def add_all(self, rules: list[tuple[str, Expr]]) -> None:
        """Add rules that are not in the index yet: (id, negation normal form) pairs."""
        specs = [rule_spec(nnf) for _, nnf in rules]
        for (rule_id, _), spec in zip(rules, specs):
            self._slot[rule_id] = self._core.add(rule_id, rule_id.encode("utf-8", "surrogatepass"), *spec)

    def remove(self, rule_id: str) -> None:
        self._core.remove(self._slot.pop(rule_id))

    def compact(self) -> None:
        self._core.compact()

    def match(self, title_tokens: list[str], body_tokens: list[str]) -> list[str]:  # replaced per instance
        return self._core.match(title_tokens, body_tokens)

    def stats(self) -> tuple[int, int, int, int]:
        """(rules, keys, lexicon entries, entries only cached for prefixes)."""
        return self._core.stats()
