"""The pure-Python rule index: many watch rules against one story's tokens.

Used when the compiled core (`native.py`) is not built; same answers.

How a story is matched:

1. `Matcher` cuts each field into tokens (`tokens.tokens`).  Every term of every
   rule is then just a member of the field's token set.
2. Every phrase and prefix of every rule is a pattern in one Aho-Corasick
   automaton run over the field's tokens joined as " t1 t2 … ": a phrase is
   " crude oil " and a prefix " sanc", so every hit is on token boundaries
   and needs no checking.  The keys found join the field's set.
3. NEARs are evaluated on token positions, but only those whose both sides
   have a word in the story; a true NEAR joins the set as a key of its own.
4. Most rules are an AND of clauses, each clause an OR of leaves or NEARs,
   with perhaps some NOT leaves: `(wheat OR maize) "export subsidies"
   -futures`.  Those are matched in bulk, with set and dict operations that
   run in C: a rule of one clause is found by looking its keys up; for
   longer ones every present key names the (rule, clause) slots it
   satisfies, the slots are counted per rule, and a rule matches when its
   count equals its number of clauses.  Rules holding a present NOT leaf are
   then taken out.
5. Every other rule is indexed by "anchor" leaves chosen so that the rule
   cannot match unless one of them is present (the rarest conjunct by a
   word-weight heuristic, like Lucene Monitor's presearcher).  Only rules
   whose anchors were seen are evaluated, by a small function generated per
   rule shape.

Adding or removing a rule updates dictionaries in place.  New patterns go
into a small second automaton that is rebuilt on the next match; the big one
is rebuilt only when the small one has grown to an eighth of it, so a change
costs milliseconds, not a rebuild of 100,000 rules.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter, rshift
from typing import Any

from .anchors import anchors as _anchors
from .evaluate import StoryView
from .expr import And, Expr, Field, Leaf, Near, Not, Or, leaves
from .weights import leaf_cost

Check = Callable[[set, set, set], bool]
Literal_ = tuple["Field | None", str]  # (field or None for either, key)

# A rule of up to this many clauses is matched in bulk (slot = rule << 4 | clause).
_SLOT_BITS = 4
MAX_CLAUSES = 1 << _SLOT_BITS


def near_key(near: Near) -> str:
    """The key a true NEAR is known by among a story's keys (no token holds a NUL)."""
    return "\x00" + str(near)


@dataclass(frozen=True)
class _Compiled:
    # Bulk form: true when every clause has a present literal and no negative is present ...
    clauses: tuple[tuple[Literal_, ...], ...]
    negatives: tuple[Literal_, ...]
    # ... otherwise (clauses empty): cannot be true unless one of these keys is present,
    anchors: tuple[str, ...]
    # and then this says whether it is.
    check: Check | None
    patterns: tuple[str, ...]
    nears: tuple[Near, ...]


def _compile(nnf: Expr) -> _Compiled:
    """A rule (in negation normal form) prepared for this index."""
    patterns = tuple(sorted({leaf.pattern for leaf in leaves(nnf) if leaf.kind != "term"}))
    nears = tuple(dict.fromkeys(_nears(nnf)))
    bulk = _clausal(nnf)
    if bulk is not None:
        return _Compiled(bulk[0], bulk[1], (), None, patterns, nears)
    chosen = _anchors(nnf)
    if chosen is None:  # pragma: no cover - parse() rejects every such query
        raise ValueError("the query has no word it must contain")
    anchors = tuple(dict.fromkeys(_anchor_key(x) for x in chosen[1]))
    return _Compiled((), (), anchors, _verifier(nnf), patterns, nears)


def _literal(e: Leaf | Near) -> Literal_:
    return (e.field, e.key) if isinstance(e, Leaf) else (None, near_key(e))


def _anchor_key(e: Leaf | Near) -> str:
    return e.key if isinstance(e, Leaf) else near_key(e)


def _nears(e: Expr) -> list[Near]:
    if isinstance(e, Near):
        return [e]
    if isinstance(e, Leaf):
        return []
    if isinstance(e, Not):
        return _nears(e.child)
    return [n for c in e.children for n in _nears(c)]


def _clausal(nnf: Expr) -> tuple[tuple[tuple[Literal_, ...], ...], tuple[Literal_, ...]] | None:
    """(clauses, negatives) when `nnf` is an AND of ORs of leaves/NEARs and NOT leaves/NEARs."""
    clauses: list[tuple[Literal_, ...]] = []
    negatives: list[Literal_] = []
    for part in nnf.children if isinstance(nnf, And) else (nnf,):
        if isinstance(part, (Leaf, Near)):
            clauses.append((_literal(part),))
        elif isinstance(part, Or) and all(isinstance(c, (Leaf, Near)) for c in part.children):
            clauses.append(tuple(dict.fromkeys(_literal(c) for c in part.children)))  # type: ignore[arg-type]
        elif isinstance(part, Not) and isinstance(part.child, (Leaf, Near)):
            negatives.append(_literal(part.child))
        else:
            return None
    clauses = list(dict.fromkeys(clauses))
    if not clauses or len(clauses) > MAX_CLAUSES:
        return None
    return tuple(clauses), tuple(dict.fromkeys(negatives))


_SETS = {None: "A", "title": "T", "body": "B"}
_FACTORIES: dict[str, Callable[..., Check]] = {}


def _verifier(nnf: Expr) -> Check:
    """A function (A, T, B) -> bool for one rule.

    A, T and B are the keys present in either field (true NEARs included),
    the title and the body.
    The function is generated once per rule shape (the query with its words
    taken out) and closed over this rule's keys.
    """
    params: list[Any] = []
    code = _code(nnf, params)
    factory = _FACTORIES.get(code)
    if factory is None:
        names = ", ".join(f"k{i}" for i in range(len(params)))
        factory = eval(compile(f"lambda {names}: lambda A, T, B: {code}", "<watch-rule>", "eval"))
        _FACTORIES[code] = factory
    return factory(*params)


def _code(e: Expr, params: list[Any]) -> str:
    if isinstance(e, Leaf):
        params.append(e.key)
        return f"k{len(params) - 1} in {_SETS[e.field]}"
    if isinstance(e, Near):
        params.append(near_key(e))
        return f"k{len(params) - 1} in A"
    if isinstance(e, Not):
        return f"not {_code(e.child, params)}"
    kids = e.children  # type: ignore[union-attr]
    joiner = " and " if isinstance(e, And) else " or "
    return "(" + joiner.join(_code(c, params) for c in kids) + ")"


class _Patterns:
    """Phrase and prefix patterns in a big automaton plus a small one for recent additions."""

    def __init__(self) -> None:
        self.live: dict[str, int] = {}
        self._base_keys: frozenset[str] = frozenset()
        self._base: Any = None
        self._delta_keys: set[str] = set()
        self._delta: Any = None
        self._dead = 0
        self._dirty = False
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.live)

    def add(self, pattern: str) -> None:
        count = self.live.get(pattern, 0)
        self.live[pattern] = count + 1
        if count == 0:
            if pattern in self._base_keys:
                self._dead -= 1
            else:
                self._delta_keys.add(pattern)
                self._dirty = True

    def remove(self, pattern: str) -> None:
        count = self.live[pattern] - 1
        if count:
            self.live[pattern] = count
            return
        del self.live[pattern]
        if pattern in self._base_keys:
            # Left in the automaton: a dead pattern's hits match no rule.
            self._dead += 1
        else:
            self._delta_keys.discard(pattern)
            self._dirty = True

    def refresh(self) -> None:
        """Rebuild what changed; called before matching (cheap when nothing did)."""
        if not self._dirty:
            return
        with self._lock:
            if not self._dirty:
                return
            base_size = len(self._base_keys)
            if len(self._delta_keys) > max(2000, base_size // 8) or self._dead > max(2000, base_size // 4):
                self._base_keys = frozenset(self.live)
                self._base = _automaton(self._base_keys)
                self._delta_keys = set()
                self._delta = None
                self._dead = 0
            else:
                self._delta = _automaton(self._delta_keys)
            self._dirty = False

    def find(self, joined: str) -> list[str]:
        found = self._base.find_matches_as_strings(joined, overlapping=True) if self._base is not None else []
        if self._delta is not None:
            found += self._delta.find_matches_as_strings(joined, overlapping=True)
        return found


def _automaton(keys: Iterable[str]) -> Any:
    import ahocorasick_rs

    keys = sorted(keys)
    return ahocorasick_rs.AhoCorasick(keys) if keys else None


RuleLike = Any  # wirewatch.rules.Rule, or an (id, query) pair


class _NearAtom:
    """A NEAR shared by every rule that uses it, and the keys that trigger its check."""

    __slots__ = ("near", "key", "anchors", "others", "count")

    def __init__(self, near: Near) -> None:
        self.near = near
        self.key = near_key(near)
        sides = sorted((near.left, near.right), key=lambda side: sum(map(leaf_cost, side)))
        self.anchors = tuple(dict.fromkeys(leaf.key for leaf in sides[0]))
        self.others = frozenset(leaf.key for leaf in sides[1])
        self.count = 0


# What a key's posting record holds, by position: the rules (or slots, or
# NEAR keys) for which the key's presence in a field ...
EXACT = 0  # ... makes a one-clause rule true,
FIRST = 1  # ... satisfies clause 1 of a two-clause rule,
SECOND = 2  # ... satisfies clause 2 of a two-clause rule,
SLOTS = 3  # ... satisfies clause j of a longer rule r (slot r << 4 | j),
NEGATIVE = 4  # ... makes a rule with this NOT leaf false,
GENERAL = 5  # ... calls for checking a rule in full (anchors, either field),
NEARS = 6  # ... calls for checking a NEAR on token positions (anchors, either field).
_KINDS = 7
_EMPTY: frozenset = frozenset()
_GET = [itemgetter(i) for i in range(_KINDS)]


def _union(kind: int, records: list[list[Any]]) -> set:
    return set().union(*map(_GET[kind], records))


class PythonIndex:
    """The rules of a `Matcher`, for matching a story's tokens (the pure-Python engine).

    `match` may run in several threads at once, but not while `add` or
    `remove` runs.
    """

    def __init__(self) -> None:
        self._rules: dict[str, _Compiled] = {}
        self._number: dict[str, int] = {}
        # Rule numbers are never reused; a removed rule leaves None behind.
        self._name: list[str | None] = []
        # Per field scope (None = either field): key -> posting record (see EXACT … NEARS).
        # One record per key keeps it to one dictionary probe per key of a story.
        self._index: dict[Field | None, dict[str, list[Any]]] = {None: {}, "title": {}, "body": {}}
        self._need: dict[int, int] = {}
        self._checks: dict[int, Check] = {}
        self._nears: dict[str, _NearAtom] = {}
        self._patterns = _Patterns()

    def _post(self, field: Field | None, key: str, kind: int, item: Any) -> None:
        record = self._index[field].get(key)
        if record is None:
            record = self._index[field][key] = [_EMPTY] * _KINDS
        if record[kind] is _EMPTY:
            record[kind] = set()
        record[kind].add(item)

    def _unpost(self, field: Field | None, key: str, kind: int, item: Any) -> None:
        table = self._index[field]
        record = table.get(key)
        if record is None:
            return
        record[kind].discard(item)
        if not record[kind]:
            record[kind] = _EMPTY
            if all(x is _EMPTY for x in record):
                del table[key]

    # -- the rule set ---------------------------------------------------------------

    def compact(self) -> None:
        """Lay the index out again, each key's postings together in memory.

        Rules added one by one leave a key's postings scattered over the
        heap; matching a story touches them all, so after a bulk load this
        saves cache misses.  Not needed for correctness.
        """
        for field, table in self._index.items():
            self._index[field] = {
                key: [_EMPTY if x is _EMPTY else set(x) for x in record] for key, record in table.items()
            }

    def add(self, rule_id: str, nnf: Expr) -> None:
        """Add a rule (its query in negation normal form) whose id is not in the index."""
        compiled = _compile(nnf)
        r = len(self._name)
        self._rules[rule_id] = compiled
        self._number[rule_id] = r
        self._name.append(rule_id)
        self._postings(r, compiled, self._post)
        if len(compiled.clauses) > 2:
            self._need[r] = len(compiled.clauses)
        if compiled.check is not None:
            self._checks[r] = compiled.check
        for near in compiled.nears:
            self._add_near(near)
        for pattern in compiled.patterns:
            self._patterns.add(pattern)

    def add_all(self, rules: list[tuple[str, Expr]]) -> None:
        """Add rules that are not in the index yet: (id, negation normal form) pairs."""
        for rule_id, nnf in rules:
            self.add(rule_id, nnf)

    def remove(self, rule_id: str) -> None:
        """Remove a rule that is in the index."""
        compiled = self._rules.pop(rule_id)
        r = self._number.pop(rule_id)
        self._name[r] = None
        self._postings(r, compiled, self._unpost)
        self._need.pop(r, None)
        self._checks.pop(r, None)
        for near in compiled.nears:
            self._remove_near(near)
        for pattern in compiled.patterns:
            self._patterns.remove(pattern)

    @staticmethod
    def _postings(r: int, compiled: _Compiled, post: Callable[[Field | None, str, int, Any], None]) -> None:
        """Every posting of rule number `r`, handed to `post` (to add or to remove them)."""
        clauses = compiled.clauses
        for j, clause in enumerate(clauses):
            for field, key in clause:
                if len(clauses) == 1:
                    post(field, key, EXACT, r)
                elif len(clauses) == 2:
                    post(field, key, FIRST if j == 0 else SECOND, r)
                else:
                    post(field, key, SLOTS, r << _SLOT_BITS | j)
        for field, key in compiled.negatives:
            post(field, key, NEGATIVE, r)
        for key in compiled.anchors:
            post(None, key, GENERAL, r)

    def _add_near(self, near: Near) -> None:
        key = near_key(near)
        atom = self._nears.get(key)
        if atom is None:
            atom = self._nears[key] = _NearAtom(near)
            for anchor in atom.anchors:
                self._post(None, anchor, NEARS, key)
        atom.count += 1

    def _remove_near(self, near: Near) -> None:
        key = near_key(near)
        atom = self._nears[key]
        atom.count -= 1
        if not atom.count:
            del self._nears[key]
            for anchor in atom.anchors:
                self._unpost(None, anchor, NEARS, key)

    # -- matching ---------------------------------------------------------------

    def match(self, title_tokens: list[str], body_tokens: list[str]) -> list[str]:
        """Ids of the rules a story with these tokens matches, sorted."""
        title_joined = " " + " ".join(title_tokens) + " "
        body_joined = " " + " ".join(body_tokens) + " "
        in_title = set(title_tokens)
        in_body = set(body_tokens)
        patterns = self._patterns
        if patterns:
            patterns.refresh()
            in_title.update(patterns.find(title_joined))
            in_body.update(patterns.find(body_joined))
        present = in_title | in_body

        index = self._index
        either = index[None]
        records = list(map(either.__getitem__, either.keys() & present))
        nears = _union(NEARS, records)
        if nears:
            story = None
            for key in nears:
                atom = self._nears[key]
                if atom.others.isdisjoint(present):
                    continue
                if story is None:
                    story = StoryView(title_tokens, body_tokens, title_joined, body_joined)
                if story.near(atom.near):
                    present.add(key)
                    if key in either:
                        records.append(either[key])
        general = _union(GENERAL, records)
        for field, keys in (("title", in_title), ("body", in_body)):
            if index[field]:
                records.extend(map(index[field].__getitem__, index[field].keys() & keys))

        found = _union(EXACT, records)
        first = _union(FIRST, records)
        if first:
            found |= first & _union(SECOND, records)
        slots = _union(SLOTS, records)
        if slots:
            counts = Counter(map(rshift, slots, repeat(_SLOT_BITS)))
            found.update(map(itemgetter(0), counts.items() & self._need.items()))
        if general:
            checks = self._checks
            found.update([r for r in general if checks[r](present, in_title, in_body)])
        if found:
            found -= _union(NEGATIVE, records)
        name = self._name
        return sorted([name[r] for r in found])
