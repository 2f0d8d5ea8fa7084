"""Many watch rules against one story at a time, with cost that grows with what matches.

How a story is matched:

1. Each field is cut into tokens (`tokens.tokens`).  Every term of every
   rule is then just a member of the field's token set.
2. Every phrase and prefix of every rule is a pattern in one Aho-Corasick
   automaton run over the field's tokens joined as " t1 t2 … ": a phrase is
   " crude oil " and a prefix " sanc", so every hit is on token boundaries
   and needs no checking.  The keys found join the field's set.
3. A rule that is one leaf, or an OR of leaves, matches exactly when one of
   its leaves is in the right set: those rules are looked up, never
   evaluated.
4. Every other rule is indexed by "anchor" leaves chosen so that the rule
   cannot match unless one of them is present (the rarest conjunct by a
   word-weight heuristic, like Lucene Monitor's presearcher).  Only rules
   whose anchors were seen are evaluated, by a small function generated per
   rule shape; NEAR is checked on token positions.

Adding or removing a rule updates dictionaries in place.  New patterns go
into a small second automaton that is rebuilt on the next match; the big one
is rebuilt only when the small one has grown to an eighth of it, so a change
costs milliseconds, not a rebuild of 100,000 rules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import QueryError, RuleError
from ..model import Hit
from .evaluate import StoryView, witnesses
from .expr import And, Expr, Field, Leaf, Near, Not, Or, leaves, negation_normal_form
from .parser import parse
from .tokens import token_spans, tokens
from .weights import leaf_cost

Check = Callable[[frozenset | set, set, set, StoryView], bool]


@dataclass(frozen=True)
class CompiledRule:
    query: str
    expr: Expr
    # The rule is true exactly when one of these (field, key) leaves is present.
    exact: tuple[tuple[Field | None, str], ...]
    # Otherwise: the rule cannot be true unless one of these keys is present ...
    anchors: tuple[str, ...]
    # ... and this says whether it is.
    check: Check | None
    patterns: tuple[str, ...]


def compile_rule(query: str) -> CompiledRule:
    """Parse a query and prepare it for the matcher; raises `QueryError`."""
    expr = parse(query)
    nnf = negation_normal_form(expr)
    patterns = tuple(sorted({leaf.pattern for leaf in leaves(nnf) if leaf.kind != "term"}))
    if isinstance(nnf, Leaf):
        return CompiledRule(query, expr, ((nnf.field, nnf.key),), (), None, patterns)
    if isinstance(nnf, Or) and all(isinstance(c, Leaf) for c in nnf.children):
        exact = tuple(dict.fromkeys((c.field, c.key) for c in nnf.children))  # type: ignore[union-attr]
        return CompiledRule(query, expr, exact, (), None, patterns)
    chosen = _anchors(nnf)
    if chosen is None:  # pragma: no cover - parse() rejects every such query
        raise QueryError("the query has no word it must contain", 1, query)
    anchors = tuple(dict.fromkeys(leaf.key for leaf in chosen[1]))
    return CompiledRule(query, expr, (), anchors, _verifier(nnf), patterns)


def _anchors(e: Expr) -> tuple[float, list[Leaf]] | None:
    """Leaves one of which must be present for `e` (in negation normal form) to be true.

    None when there is no such set (a negated leaf).  Among the choices an
    AND offers, the cheapest (rarest) is taken.
    """
    if isinstance(e, Leaf):
        return leaf_cost(e), [e]
    if isinstance(e, Not):
        return None
    if isinstance(e, Near):
        sides = [(sum(map(leaf_cost, s)), list(s)) for s in (e.left, e.right)]
        return min(sides, key=lambda c: c[0])
    options = [_anchors(c) for c in e.children]  # type: ignore[union-attr]
    if isinstance(e, And):
        found = [o for o in options if o is not None]
        return min(found, key=lambda c: c[0]) if found else None
    if any(o is None for o in options):
        return None
    return sum(o[0] for o in options), [leaf for o in options for leaf in o[1]]  # type: ignore[index]


_SETS = {None: "A", "title": "T", "body": "B"}
_FACTORIES: dict[str, Callable[..., Check]] = {}


def _verifier(nnf: Expr) -> Check:
    """A function (A, T, B, story) -> bool for one rule.

    A, T and B are the keys present in either field, the title and the body.
    The function is generated once per rule shape (the query with its words
    taken out) and closed over this rule's keys.
    """
    params: list[Any] = []
    code = _code(nnf, params)
    factory = _FACTORIES.get(code)
    if factory is None:
        names = ", ".join(f"k{i}" for i in range(len(params)))
        factory = eval(compile(f"lambda {names}: lambda A, T, B, C: {code}", "<watch-rule>", "eval"))
        _FACTORIES[code] = factory
    return factory(*params)


def _code(e: Expr, params: list[Any]) -> str:
    if isinstance(e, Leaf):
        params.append(e.key)
        return f"k{len(params) - 1} in {_SETS[e.field]}"
    if isinstance(e, Near):
        params.append(e)
        return f"C.near(k{len(params) - 1})"
    if isinstance(e, Not):
        return f"not {_code(e.child, params)}"
    # Cheap set look-ups first; position checks only if still needed.
    kids = sorted(e.children, key=_has_near)  # type: ignore[union-attr]
    joiner = " and " if isinstance(e, And) else " or "
    return "(" + joiner.join(_code(c, params) for c in kids) + ")"


def _has_near(e: Expr) -> bool:
    if isinstance(e, Near):
        return True
    if isinstance(e, Leaf):
        return False
    if isinstance(e, Not):
        return _has_near(e.child)
    return any(_has_near(c) for c in e.children)


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


class Matcher:
    """A set of watch rules, matched against stories.

    `match` may run in several threads at once, but not while `add` or
    `remove` runs: apply changes between stories, or build a new matcher and
    swap it in.
    """

    def __init__(self) -> None:
        self._rules: dict[str, CompiledRule] = {}
        self._exact: dict[Field | None, dict[str, set[str]]] = {None: {}, "title": {}, "body": {}}
        self._anchored: dict[str, set[str]] = {}
        self._checks: dict[str, Check] = {}
        self._patterns = _Patterns()

    # -- the rule set ---------------------------------------------------------------

    @classmethod
    def from_rules(
        cls, rules: Iterable[RuleLike] | Mapping[str, str], on_error: Callable[[RuleError], None] | None = None
    ) -> "Matcher":
        """A matcher for `rules`: `Rule` objects, (id, query) pairs, or a mapping of id to query.

        An invalid query or a repeated id raises `RuleError`, or is handed to
        `on_error` and left out.
        """
        m = cls()
        items = rules.items() if isinstance(rules, Mapping) else rules
        for item in items:
            rule_id, query = (item.id, item.query) if hasattr(item, "query") else item
            try:
                if rule_id in m:
                    raise RuleError(rule_id, "another rule has the same id")
                try:
                    m.add(rule_id, query)
                except QueryError as exc:
                    raise RuleError(rule_id, f"invalid query: {exc}") from exc
            except RuleError as exc:
                if on_error is None:
                    raise
                on_error(exc)
        return m

    def add(self, rule_id: str, query: str) -> None:
        """Add a rule, or replace the rule with this id; raises `QueryError` (and keeps the old rule)."""
        compiled = compile_rule(query)
        if rule_id in self._rules:
            self.remove(rule_id)
        self._rules[rule_id] = compiled
        for field, key in compiled.exact:
            self._exact[field].setdefault(key, set()).add(rule_id)
        for key in compiled.anchors:
            self._anchored.setdefault(key, set()).add(rule_id)
        if compiled.check is not None:
            self._checks[rule_id] = compiled.check
        for pattern in compiled.patterns:
            self._patterns.add(pattern)

    def remove(self, rule_id: str) -> bool:
        """Remove a rule; False if there was none with this id."""
        compiled = self._rules.pop(rule_id, None)
        if compiled is None:
            return False
        for field, key in compiled.exact:
            _discard(self._exact[field], key, rule_id)
        for key in compiled.anchors:
            _discard(self._anchored, key, rule_id)
        self._checks.pop(rule_id, None)
        for pattern in compiled.patterns:
            self._patterns.remove(pattern)
        return True

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self):
        return iter(self._rules)

    def query(self, rule_id: str) -> str:
        return self._rules[rule_id].query

    def expression(self, rule_id: str) -> Expr:
        return self._rules[rule_id].expr

    # -- matching ---------------------------------------------------------------

    def match(self, title: str, body: str) -> list[str]:
        """Ids of the rules the story matches, sorted."""
        title_tokens = tokens(title)
        body_tokens = tokens(body)
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

        found: set[str] = set()
        for table, keys in (
            (self._exact[None], present),
            (self._exact["title"], in_title),
            (self._exact["body"], in_body),
        ):
            hit = table.keys() & keys
            if hit:
                found.update(*map(table.__getitem__, hit))
        anchored = self._anchored
        hit = anchored.keys() & present
        if hit:
            candidates = set().union(*map(anchored.__getitem__, hit))
            story = StoryView(title_tokens, body_tokens, title_joined, body_joined)
            checks = self._checks
            found.update([r for r in candidates if checks[r](present, in_title, in_body, story)])
        return sorted(found)

    def hits(self, title: str, body: str, rule_ids: Iterable[str] | None = None) -> dict[str, list[Hit]]:
        """For each matching rule (of `rule_ids`, default all), where its words are in the story.

        Spans are character offsets into the original title and body; words
        under a NOT are not included.  Rules that do not match are left out.
        """
        ids = self.match(title, body) if rule_ids is None else [r for r in rule_ids if r in self._rules]
        if not ids:
            return {}
        spans = {"title": token_spans(title), "body": token_spans(body)}
        story = StoryView([t for t, _, _ in spans["title"]], [t for t, _, _ in spans["body"]])
        out: dict[str, list[Hit]] = {}
        for rule_id in ids:
            found = witnesses(self._rules[rule_id].expr, story)
            if found is None:
                continue
            chars = sorted({(f, spans[f][s][1], spans[f][e - 1][2]) for f, s, e in found})
            out[rule_id] = [Hit(field=f, start=s, end=e) for f, s, e in chars]
        return out


def _discard(table: dict[str, set[str]], key: str, rule_id: str) -> None:
    ids = table.get(key)
    if ids is not None:
        ids.discard(rule_id)
        if not ids:
            del table[key]
