"""The words a rule is indexed by: one of them must be in a story for the rule to match.

Like Lucene Monitor's presearcher, a matcher only looks at rules whose
anchors a story holds.  Among the choices an AND offers, the cheapest
(rarest, by `weights.leaf_cost`) is taken; an OR needs every branch's.
"""

from __future__ import annotations

from .expr import And, Expr, Leaf, Near, Not
from .weights import leaf_cost


def _side_cost(side: tuple[Leaf, ...]) -> float:
    return sum(map(leaf_cost, side))


def anchors(e: Expr, nears_as_leaves: bool = False) -> tuple[float, list[Leaf | Near]] | None:
    """(cost, anchors) for `e` in negation normal form; None when it has none (a negated leaf).

    A NEAR is its own anchor (the Python index finds true NEARs first and
    treats them as keys); with `nears_as_leaves` it is anchored by the
    leaves of its rarer side instead, one of which it cannot be true without.
    """
    if isinstance(e, Leaf):
        return leaf_cost(e), [e]
    if isinstance(e, Not):
        return None
    if isinstance(e, Near):
        # Rarer than either side.
        cost = 0.5 * min(_side_cost(e.left), _side_cost(e.right))
        return cost, list(min((e.left, e.right), key=_side_cost)) if nears_as_leaves else [e]
    options = [anchors(c, nears_as_leaves) for c in e.children]  # type: ignore[union-attr]
    if isinstance(e, And):
        found = [o for o in options if o is not None]
        return min(found, key=lambda c: c[0]) if found else None
    if any(o is None for o in options):
        return None
    return sum(o[0] for o in options), [leaf for o in options for leaf in o[1]]  # type: ignore[index]
