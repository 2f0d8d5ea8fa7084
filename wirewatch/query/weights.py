"""How rare a leaf probably is, to pick the words a rule is indexed by.

The matcher evaluates a rule only when one of its anchor words is in the
story, so the rarer the anchors, the fewer rules it evaluates for nothing.
Without statistics of the feed, length is a good guess (longer words are
rarer), corrected for the words every wire story is full of.  A lower cost
means rarer.
"""

from __future__ import annotations

from .expr import Leaf

# The most frequent words of English news copy (function words and wire
# boilerplate); they occur in most stories and make poor anchors.
COMMON = frozenset(
    """
    a about after against all also an and any are as at be been before being between both but by can could did
    do does down during each few for from further had has have having he her here hers him his how i if in into
    is it its just may me more most my new no nor not now of off on once one only or other our out over own per
    s said same says she should since so some such than that the their them then there these they this those
    through to too two under until up very was we were what when where which while who whom why will with would
    you your year years last first week month u k mln billion bn pct percent dlrs dollars reuter reuters inc corp
    co ltd company companies share shares told news report reported government market markets price prices
    """.split()
)


def token_cost(token: str) -> float:
    if token in COMMON:
        return 100.0
    if token.isdigit():
        return 20.0 if len(token) < 3 else 6.0
    return 10.0 / len(token)


def leaf_cost(leaf: Leaf) -> float:
    if leaf.prefix:
        # A prefix stands for every word it starts; short ones for very many.
        return 4.0 * token_cost(leaf.tokens[0]) + (40.0 if len(leaf.tokens[0]) < 4 else 0.0)
    best = min(map(token_cost, leaf.tokens))
    # A phrase is rarer than its rarest word.
    return best if len(leaf.tokens) == 1 else best * 0.3
