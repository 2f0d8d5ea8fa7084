"""Watch rules: what a rules file holds, read with every problem collected.

A rules file is YAML with a top-level `rules:` list, or JSON Lines with one
rule per line (what a program that keeps rules in a database writes); each
rule has `id` and `query` and may have `name` and any other keys (subscribers, channels …),
which are kept untouched in `Rule.extra` for the stages that use them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import InputError, QueryError, RuleError
from .gcpause import collector_paused

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
        # A copy the size of the text: orjson's own result keeps its whole
        # ~4 kB working buffer, 400 MB for 100,000 rules held for publishing.
        return bytes(memoryview(orjson.dumps(self.to_dict())))

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> "Rule":
        """A rule from a mapping; raises `InputError` naming what is missing or wrong.

        The query is not parsed here; `wirewatch.query.parse` does that.
        """
        if type(data) is not dict and not isinstance(data, Mapping):
            raise InputError(f"a rule must be a mapping with id and query, not {type(data).__name__}", where)
        rule_id = data.get("id")
        if type(rule_id) is not str or not rule_id.strip():
            rule_id = _text(rule_id, "id", where)
        query = data.get("query")
        if type(query) is not str or not query.strip():
            query = _text(query, "query", where, rule_id)
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            name = str(name)
        extra = {k: v for k, v in data.items() if k not in _KNOWN} if len(data) > 2 else {}
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

# Files a program writes (a database export, an API) are JSON Lines: one rule
# per line, read line by line, so one bad line costs only its own rule.
JSONL_SUFFIXES = (".jsonl", ".ndjson")


def load_rules(
    path: str | Path, check: RuleCheck | None = None, needs_check: Callable[[Rule], bool] | None = None
) -> tuple[list[Rule], list[RuleError]]:
    """The valid rules of a rules file, and every problem found in it.

    A rules file is YAML (1.2: `yes` and `no` are words) with a top-level
    `rules:` list, or JSON Lines (`.jsonl`, `.ndjson`) with one rule object
    per line.  Problems: the file cannot be read or parsed (with the line),
    no `rules:` list, a rule without id or query, two rules with one id
    (both are left out), and a query the spec rejects (with the column).
    `check` adds the problems other stages find in a rule's other keys (the
    alert stage's subscribers); a rule with any problem is left out.
    `needs_check` picks the rules whose query and keys are checked (default:
    all), so that publishing a large set checks only what changed.
    """
    with collector_paused():
        return _load_rules(path, check, needs_check)


def _load_rules(
    path: str | Path, check: RuleCheck | None, needs_check: Callable[[Rule], bool] | None
) -> tuple[list[Rule], list[RuleError]]:
    from .query import parse

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [], [RuleError(None, f"{path}: cannot read: {reason}")]
    problems: list[RuleError] = []
    if path.suffix.lower() in JSONL_SUFFIXES:
        items, known_lines = _read_jsonl(path, text, problems)
        line_of: Callable[[int], int | None] = lambda index: known_lines[index]  # noqa: E731
    else:
        try:
            items = _read_yaml(path, text)
        except RuleError as exc:
            return [], [exc]
        line_of = _lazy_item_lines(text, len(items))

    candidates: list[tuple[Rule, int]] = []
    for index, item in enumerate(items):
        try:
            rule = Rule.from_dict(item)
        except InputError as exc:
            rule_id = item.get("id") if isinstance(item, Mapping) else None
            rule_id = str(rule_id) if isinstance(rule_id, (str, int)) and not isinstance(rule_id, bool) else None
            message = exc.message if rule_id else exc.message.replace("rule", f"rule #{index + 1}", 1)
            problems.append(RuleError(rule_id, message, line_of(index)))
            continue
        candidates.append((rule, index))

    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for rule, index in candidates:
        if rule.id in seen:
            repeated.add(rule.id)
            first = line_of(seen[rule.id])
            problems.append(RuleError(rule.id, f"two rules have this id (the other is at line {first})", line_of(index)))
        else:
            seen[rule.id] = index

    rules: list[Rule] = []
    for rule, index in candidates:
        if needs_check is not None and not needs_check(rule):
            if rule.id not in repeated:
                rules.append(rule)
            continue
        try:
            parse(rule.query)
        except QueryError as exc:
            problems.append(RuleError(rule.id, f"invalid query {rule.query!r}: {exc}", line_of(index)))
            continue
        found = check(rule) if check is not None else []
        prefix = f"rule {rule.id!r}: "
        problems.extend(RuleError(rule.id, p.removeprefix(prefix), line_of(index)) for p in found)
        if rule.id not in repeated and not found:
            rules.append(rule)
    problems.sort(key=lambda p: (p.line or 0))
    return rules, problems


def _read_jsonl(path: Path, text: str, problems: list[RuleError]) -> tuple[list[Any], list[int]]:
    items: list[Any] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            items.append(orjson.loads(stripped))
        except orjson.JSONDecodeError as exc:
            problems.append(RuleError(None, f"{path}: not a JSON object: {exc}", number))
            continue
        lines.append(number)
    return items, lines


def _read_yaml(path: Path, text: str) -> list[Any]:
    """The items of the top-level `rules:` list; raises RuleError for a file that is not one."""
    # yaml-rs (Rust) reads a 100,000-rule file in about a second; PyYAML,
    # even with libyaml, takes ten or more.
    import yaml_rs

    try:
        doc = yaml_rs.loads(text)
    except yaml_rs.YAMLDecodeError as exc:
        message = str(exc)
        found = _ERROR_AT.search(message)
        line = int(found.group(1)) if found else None
        problem = message.splitlines()[-1].strip() if "\n" in message else message
        raise RuleError(None, f"{path}: YAML syntax error: {problem}", line) from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise RuleError(None, f"{path}: expected a top-level 'rules:' list", 1)
    return doc["rules"]


_ERROR_AT = re.compile(r"line (\d+)")
_RULES_KEY = re.compile(r"rules\s*:\s*(#.*)?$")
_ITEM = re.compile(r"( *)-(\s|$)")


def _lazy_item_lines(text: str, count: int) -> Callable[[int], int | None]:
    """index -> 1-based line of the rules list's item, worked out the first time a problem needs it."""
    found: list[list[int]] = []

    def line_of(index: int) -> int | None:
        if not found:
            found.append(_item_lines(text, count))
        lines = found[0]
        return lines[index] if index < len(lines) else None

    return line_of


def _item_lines(text: str, count: int) -> list[int]:
    """The 1-based line of each item of the top-level `rules:` list.

    Block style (how people write rules) is read from the text directly: an
    item is a line whose `-` sits at the indentation of the list's first
    item.  Anything else (flow style, anchors that confuse the count) goes
    to PyYAML's composer, which is exact but slow.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _RULES_KEY.match(line)), None)
    out: list[int] = []
    if start is not None:
        indent = None
        for i in range(start + 1, len(lines)):
            line = lines[i]
            stripped = line.lstrip(" ")
            if not stripped or stripped.startswith("#"):
                continue
            depth = len(line) - len(stripped)
            item = _ITEM.match(line)
            if indent is None:
                if item is None:
                    break
                indent = depth
            if depth < indent or (depth == 0 and item is None):
                break  # the next top-level key
            if item is not None and depth == indent:
                out.append(i + 1)
    if len(out) == count:
        return out
    return _composed_item_lines(text)


def _composed_item_lines(text: str) -> list[int]:
    import yaml

    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "rules" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []
