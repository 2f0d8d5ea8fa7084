"""Many watch rules against one story at a time, with cost that grows with what matches.

`Matcher` holds the rules by id, parses them, cuts stories into tokens and
explains matches (`hits`); which rules a story's tokens match is the job of
an index, one of two engines that give the same answers:

* "native" (`native.py`): a compiled core in Rust, used when it was built
  (a Rust toolchain present at install time).  Per story its work is a
  dictionary probe per token and a look at the rules anchored by what was
  found, so it stays nearly flat from 100 to 100,000 rules.
* "python" (`pyindex.py`): pure Python, the fallback.

Both index each rule by anchors, leaves one of which a story must hold for
the rule to match (`anchors.py`, like Lucene Monitor's presearcher), and
check every rule they report exactly; adding or removing a rule updates
them in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import QueryError, RuleError
from ..gcpause import collector_paused
from ..model import Hit
from . import native
from .evaluate import StoryView, witnesses
from .expr import Expr, negation_normal_form
from .parser import parse
from .pyindex import PythonIndex
from .tokens import token_spans, tokens

Engine = Literal["native", "python"]


def default_engine() -> Engine:
    return "native" if native.available() else "python"


@dataclass(frozen=True)
class CompiledRule:
    query: str
    expr: Expr
    nnf: Expr


def compile_rule(query: str) -> CompiledRule:
    """Parse a query and prepare it for the matcher; raises `QueryError`."""
    expr = parse(query)
    return CompiledRule(query, expr, negation_normal_form(expr))


RuleLike = Any  # wirewatch.rules.Rule, or an (id, query) pair


class Matcher:
    """A set of watch rules, matched against stories.

    `match` may run in several threads at once, but not while `add` or
    `remove` runs: apply changes between stories, or build a new matcher and
    swap it in.  `engine` picks the index (default: the compiled one when
    built).
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine: Engine = engine or default_engine()
        if self.engine == "native":
            self._index: Any = native.NativeIndex()
        elif self.engine == "python":
            self._index = PythonIndex()
        else:
            raise ValueError(f"unknown matcher engine {engine!r}")
        self._rules: dict[str, CompiledRule] = {}

    # -- the rule set ---------------------------------------------------------------

    @classmethod
    def from_rules(
        cls,
        rules: Iterable[RuleLike] | Mapping[str, str],
        on_error: Callable[[RuleError], None] | None = None,
        engine: Engine | None = None,
    ) -> "Matcher":
        """A matcher for `rules`: `Rule` objects, (id, query) pairs, or a mapping of id to query.

        An invalid query or a repeated id raises `RuleError`, or is handed to
        `on_error` and left out.
        """
        m = cls(engine)
        items = rules.items() if isinstance(rules, Mapping) else rules
        with collector_paused():
            m._add_all(items, on_error)
        m.compact()
        return m

    def _add_all(self, items: Iterable[RuleLike], on_error: Callable[[RuleError], None] | None) -> None:
        # Every rule is compiled first and then all go into the index: the
        # same work interleaved rule by rule took a quarter longer at 100,000
        # rules (the index's tables and the parser's objects crowd each other
        # out of the caches).
        compiled: dict[str, CompiledRule] = {}
        for item in items:
            rule_id, query = (item.id, item.query) if hasattr(item, "query") else item
            try:
                if not isinstance(rule_id, str):
                    raise TypeError(f"a rule id is a string, not {type(rule_id).__name__}")
                if rule_id in compiled or rule_id in self:
                    raise RuleError(rule_id, "another rule has the same id")
                try:
                    compiled[rule_id] = compile_rule(query)
                except QueryError as exc:
                    raise RuleError(rule_id, f"invalid query: {exc}") from exc
            except RuleError as exc:
                if on_error is None:
                    raise
                on_error(exc)
        self._index.add_all([(rule_id, rule.nnf) for rule_id, rule in compiled.items()])
        self._rules.update(compiled)

    def compact(self) -> None:
        """Lay the index out again after a bulk load (fewer cache misses; not needed for correctness)."""
        self._index.compact()

    def add(self, rule_id: str, query: str) -> None:
        """Add a rule, or replace the rule with this id; raises `QueryError` (and keeps the old rule)."""
        if not isinstance(rule_id, str):
            raise TypeError(f"a rule id is a string, not {type(rule_id).__name__}")
        compiled = compile_rule(query)
        if rule_id in self._rules:
            self.remove(rule_id)
        self._index.add(rule_id, compiled.nnf)
        self._rules[rule_id] = compiled

    def remove(self, rule_id: str) -> bool:
        """Remove a rule; False if there was none with this id."""
        if self._rules.pop(rule_id, None) is None:
            return False
        self._index.remove(rule_id)
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
        return self._index.match(tokens(title), tokens(body))

    def match_many(self, stories: Iterable[tuple[str, str]]) -> list[list[str]]:
        """`match` for each (title, body), in order: one call for a page of stories read in bulk."""
        match, cut = self._index.match, tokens
        return [match(cut(title), cut(body)) for title, body in stories]

    def hits(self, title: str, body: str, rule_ids: Iterable[str] | None = None) -> dict[str, list[Hit]]:
        """For each matching rule (of `rule_ids`, default all), where its words are in the story.

        Spans are character offsets into the original title and body; words
        under a NOT are not included.  Rules that do not match are left out.
        """
        ids = self.match(title, body) if rule_ids is None else [r for r in rule_ids if r in self._rules]
        return story_hits({rule_id: self._rules[rule_id].expr for rule_id in ids}, title, body)


def story_hits(exprs: Mapping[str, Expr], title: str, body: str) -> dict[str, list[Hit]]:
    """For each rule (id -> parsed query) that the story matches, where its words are in the story."""
    if not exprs:
        return {}
    spans = {"title": token_spans(title), "body": token_spans(body)}
    story = StoryView([t for t, _, _ in spans["title"]], [t for t, _, _ in spans["body"]])
    out: dict[str, list[Hit]] = {}
    for rule_id, expr in exprs.items():
        found = witnesses(expr, story)
        if found is None:
            continue
        chars = sorted({(f, spans[f][s][1], spans[f][e - 1][2]) for f, s, e in found})
        out[rule_id] = [Hit(field=f, start=s, end=e) for f, s, e in chars]
    return out
