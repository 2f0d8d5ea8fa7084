"""The alerting settings of every rule, looked up by rule id.

`RuleBook.from_file` reads a rules file (with `wirewatch.rules.load_rules`);
the worker builds a RuleBook from the live rules instead
(`RuleBook.from_rules` with `(rule_id, mapping)` pairs).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from wirewatch.errors import ConfigError

from .subscriptions import RuleAlerting, alerting_of, check

log = logging.getLogger(__name__)


class RuleBook:
    """Rule id -> alerting settings; changed one rule at a time (`put`, `remove`) as live rules change."""

    def __init__(self, rules: Mapping[str, RuleAlerting] | None = None) -> None:
        self.rules: dict[str, RuleAlerting] = {}
        self._webhooks: dict[str, str] = {}
        # Rules that have someone to alert: the match stage sends the alert
        # stage matches of these only.
        self.subscribed: set[str] = set()
        for rule in (rules or {}).values():
            self._add(rule)

    def _add(self, rule: RuleAlerting) -> None:
        self.remove(rule.rule_id)
        self.rules[rule.rule_id] = rule
        if rule.subscribers:
            self.subscribed.add(rule.rule_id)
        for sub in rule.subscribers:
            if sub.channel == "slack_webhook":
                self._webhooks[sub.target_id] = sub.target

    def get(self, rule_id: str) -> RuleAlerting | None:
        return self.rules.get(rule_id)

    def put(self, rule_id: str, raw: Mapping[str, Any]) -> list[str]:
        """Set one rule's alerting from its mapping; its problems (the rule is then left out) or []."""
        alerting, problems = alerting_of(rule_id, raw)
        if problems:
            self.remove(rule_id)
            for problem in problems:
                log.error("alerts: rule left out: %s", problem)
            return problems
        assert alerting is not None
        self._add(alerting)
        return []

    def remove(self, rule_id: str) -> None:
        old = self.rules.pop(rule_id, None)
        if old is None:
            return
        self.subscribed.discard(rule_id)
        for sub in old.subscribers:
            if sub.channel == "slack_webhook":
                self._webhooks.pop(sub.target_id, None)

    def webhook(self, target_id: str) -> str | None:
        """The URL of a webhook subscription, by the id alerts name it with."""
        return self._webhooks.get(target_id)

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def from_rules(cls, rules: Iterable[tuple[str, Mapping[str, Any]]], strict: bool = True) -> "RuleBook":
        """From (rule id, rule mapping) pairs; ConfigError listing every problem.

        With `strict=False` a rule with problems is left out (and the
        problems logged) instead: one bad rule published at run time must
        not silence the others.
        """
        parsed: dict[str, RuleAlerting] = {}
        problems: list[str] = []
        for rule_id, raw in rules:
            if rule_id in parsed:
                problems.append(f"rule {rule_id!r}: two rules have this id")
                continue
            alerting, found = alerting_of(rule_id, raw)
            if found:
                problems.extend(found)
                continue
            assert alerting is not None
            parsed[rule_id] = alerting
        if problems:
            if strict:
                raise ConfigError("bad alerting settings:\n  " + "\n  ".join(problems))
            for problem in problems:
                log.error("alerts: rule left out: %s", problem)
        return cls(parsed)

    @classmethod
    def from_file(cls, path: Path) -> "RuleBook":
        return cls.from_rules(read_rules(path))


def read_rules(path: Path) -> list[tuple[str, dict]]:
    """(id, mapping) of each rule in a rules file; ConfigError listing every problem."""
    from wirewatch.rules import load_rules

    rules, problems = load_rules(path, check=check)
    if problems:
        raise ConfigError(f"rules file {path}:\n  " + "\n  ".join(str(p) for p in problems))
    return [(rule.id, rule.to_dict()) for rule in rules]


class RulesFile:
    """A RuleBook that follows a rules file: re-read when the file changes.

    A change with mistakes in it is logged and ignored; the last good rules
    stay in force, so a typo never stops alerts.
    """

    def __init__(self, path: Path, check_every: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.check_every = check_every
        self._clock = clock
        self._stamp = self._stat()
        self._book = RuleBook.from_file(self.path)
        self._checked = clock()

    def _stat(self) -> tuple[float, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def __call__(self) -> RuleBook:
        now = self._clock()
        if now - self._checked >= self.check_every:
            self._checked = now
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._book = RuleBook.from_file(self.path)
                    log.info("rules reloaded from %s: %d rules", self.path, len(self._book))
                except ConfigError as exc:
                    log.error("rules file changed but is not usable; keeping the previous rules: %s", exc)
        return self._book
