"""Watch rules: what a rules file holds, read with every problem collected.

A rules file is YAML with a top-level `rules:` list; each rule has `id` and
`query` and may have `name` and any other keys (subscribers, channels …),
which are kept untouched in `Rule.extra` for the stages that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import InputError, QueryError, RuleError

_KNOWN = ("id", "query", "name")


@dataclass(frozen=True)
class Rule:
    id: str
    query: str
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The rule as written in a rules file: id, query, name, then the other keys."""
        out: dict[str, Any] = {"id": self.id, "query": self.query}
        if self.name is not None:
            out["name"] = self.name
        out.update(self.extra)
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> "Rule":
        """A rule from a mapping; raises `InputError` naming what is missing or wrong.

        The query is not parsed here; `wirewatch.query.parse` does that.
        """
        if not isinstance(data, Mapping):
            raise InputError(f"a rule must be a mapping with id and query, not {type(data).__name__}", where)
        rule_id = _text(data.get("id"), "id", where)
        query = _text(data.get("query"), "query", where, rule_id)
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            name = str(name)
        extra = {k: v for k, v in data.items() if k not in _KNOWN}
        return cls(rule_id, query, name, extra)

    @classmethod
    def from_json(cls, data: bytes | str, where: str | None = None) -> "Rule":
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"not a valid rule: not JSON ({exc})", where) from exc
        return cls.from_dict(doc, where)


def _text(value: Any, key: str, where: str | None, rule_id: str | None = None) -> str:
    # YAML reads `id: 42` as a number; that id is plainly "42".  A boolean or
    # null is a mistake (`query: yes` is True in YAML), not a word.
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
        what = "has no" if value is None else f"has a {type(value).__name__} as its"
        who = f"rule {rule_id!r}" if rule_id else "rule"
        raise InputError(f"{who} {what} {key}" + ("" if value is None else "; write it as text"), where)
    text = str(value)
    if not text.strip():
        raise InputError(f"{'rule ' + repr(rule_id) if rule_id else 'rule'} has an empty {key}", where)
    return text


RuleCheck = Callable[[Rule], list[str]]


def load_rules(path: str | Path, check: RuleCheck | None = None) -> tuple[list[Rule], list[RuleError]]:
    """The valid rules of a rules file, and every problem found in it.

    Problems: the file cannot be read or is not YAML (with the line), no
    `rules:` list, a rule without id or query, two rules with one id (both
    are left out), and a query the spec rejects (with the column).  `check`
    adds the problems other stages find in a rule's other keys (the alert
    stage's subscribers); a rule with any problem is left out.
    """
    import yaml

    from .query import parse

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [], [RuleError(None, f"{path}: cannot read: {reason}")]
    try:
        doc = yaml.safe_load(text)
        lines = _item_lines(yaml.compose(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return [], [RuleError(None, f"{path}: YAML syntax error: {problem}", line)]
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        return [], [RuleError(None, f"{path}: expected a top-level 'rules:' list", 1)]

    problems: list[RuleError] = []
    candidates: list[tuple[Rule, int | None]] = []
    for index, item in enumerate(doc["rules"]):
        line = lines[index] if index < len(lines) else None
        try:
            rule = Rule.from_dict(item)
        except InputError as exc:
            rule_id = item.get("id") if isinstance(item, Mapping) else None
            rule_id = str(rule_id) if isinstance(rule_id, (str, int)) and not isinstance(rule_id, bool) else None
            message = exc.message if rule_id else exc.message.replace("rule", f"rule #{index + 1}", 1)
            problems.append(RuleError(rule_id, message, line))
            continue
        candidates.append((rule, line))

    seen: dict[str, int | None] = {}
    repeated: set[str] = set()
    for rule, line in candidates:
        if rule.id in seen:
            repeated.add(rule.id)
            first = seen[rule.id]
            problems.append(RuleError(rule.id, f"two rules have this id (the other is at line {first})", line))
        else:
            seen[rule.id] = line

    rules: list[Rule] = []
    for rule, line in candidates:
        try:
            parse(rule.query)
        except QueryError as exc:
            problems.append(RuleError(rule.id, f"invalid query {rule.query!r}: {exc}", line))
            continue
        found = check(rule) if check is not None else []
        prefix = f"rule {rule.id!r}: "
        problems.extend(RuleError(rule.id, p.removeprefix(prefix), line) for p in found)
        if rule.id not in repeated and not found:
            rules.append(rule)
    problems.sort(key=lambda p: (p.line or 0))
    return rules, problems


def _item_lines(root: Any) -> list[int]:
    """The 1-based line of each item of the top-level `rules:` list."""
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "rules" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []
