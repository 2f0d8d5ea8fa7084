"""`wirewatch tail`: follow a topic live, like a friendlier kcat."""

from __future__ import annotations

import json
import sys

import typer

from .common import console, friendly_errors, out, settings

KINDS = ("stories", "matched", "matches", "alerts", "deadletter", "rules")


def register(app: typer.Typer) -> None:
    app.command("tail")(tail)


def tail(
    topic: str = typer.Argument(
        "matches",
        help=f"A topic: one of {', '.join(KINDS)} (WireWatch's own, with WIREWATCH_TOPIC_PREFIX) or any full topic name.",
    ),
    since: str = typer.Option(None, "--since", "-s", help="Start at a time: a duration back (10m, 2h, 1d) or a time (2026-11-29T08:00, UTC unless a zone is given)."),
    from_beginning: bool = typer.Option(False, "--from-beginning", "-b", help="Start at the oldest message (default: only new ones)."),
    rules: list[str] = typer.Option(None, "--rule", "-r", help="Only stories that matched this rule (repeatable)."),
    grep: str = typer.Option(None, "--grep", "-g", help="Only messages containing this text (any case); it is highlighted."),
    as_json: bool = typer.Option(False, "--json", help="Print each message's JSON on one line, for pipes (jq, `wirewatch match`)."),
    limit: int = typer.Option(None, "--limit", "-n", min=1, help="Stop after this many messages."),
    exit_at_end: bool = typer.Option(False, "--exit", "-e", help="Stop at the end of the topic instead of waiting for more."),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers. Default: WIREWATCH_KAFKA_BOOTSTRAP."),
) -> None:
    """Follow a topic live: headline, time, rules matched, matched words highlighted.

    Examples:

      wirewatch tail                          # new matches of rules that alert someone, as they happen

      wirewatch tail matched --since 10m      # every story of the last ten minutes, with its rules

      wirewatch tail matched -r lethal-aid -b # every story one rule matched so far (any rule)

      wirewatch tail deadletter -b -e         # what was parked, and why

      wirewatch tail stories --json -b -e > stories.jsonl
    """
    from kafka import TopicPartition

    from wirewatch import kafka_clients
    from wirewatch.errors import ConfigError
    from wirewatch.timeparse import parse_since

    s = settings(kafka_bootstrap=bootstrap)
    name = s.topic(topic) if topic in KINDS else topic
    kind = topic if topic in KINDS else None
    with friendly_errors():
        try:
            start_at = parse_since(since) if since else None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        consumer = kafka_clients.consumer(s, "wirewatch-tail")
        try:
            partitions = consumer.partitions_for_topic(name)
            if not partitions:
                known = sorted(t for t in consumer.topics() if not t.startswith("__"))
                raise ConfigError(f"topic {name!r} does not exist; topics: {', '.join(known) or '(none)'}")
            tps = [TopicPartition(name, p) for p in sorted(partitions)]
            consumer.assign(tps)
            if start_at is not None:
                found = consumer.offsets_for_times({tp: int(start_at.timestamp() * 1000) for tp in tps})
                for tp in tps:
                    if found.get(tp) is None:
                        consumer.seek_to_end(tp)
                    else:
                        consumer.seek(tp, found[tp].offset)
            elif from_beginning:
                consumer.seek_to_beginning(*tps)
            else:
                consumer.seek_to_end(*tps)
            end = consumer.end_offsets(tps)
            where = "the beginning" if from_beginning else (f"{start_at:%Y-%m-%d %H:%M:%SZ}" if start_at else "now")
            if not as_json:
                console.print(f"[dim]following {name} ({len(tps)} partitions) from {where}; Ctrl-C to stop[/]")
            shown = _follow(consumer, tps, end, kind, set(rules or ()), grep, as_json, limit, exit_at_end)
            if not as_json:
                console.print(f"[dim]{shown} messages shown[/]")
        except KeyboardInterrupt:
            pass
        finally:
            consumer.close()


def _follow(consumer, tps, end, kind, rules, grep, as_json, limit, exit_at_end) -> int:
    shown = 0
    while True:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                # A message of the matched topic carries a batch of stories: each is shown as itself.
                for value, obj in _items(record.value, kind):
                    lines = _render(record, value, obj, rules, grep, as_json)
                    if lines is None:
                        continue
                    shown += 1
                    if as_json:
                        sys.stdout.write(lines + "\n")
                        sys.stdout.flush()
                    else:
                        for line in lines:
                            out.print(line)
                    if limit and shown >= limit:
                        return shown
        if exit_at_end and all(consumer.position(tp) >= end[tp] for tp in tps):
            return shown


def _decode(value: bytes | None, kind: str | None):
    from wirewatch.errors import InputError
    from wirewatch.model import DeadLetter, Match, MatchedBatch, MatchedStory, Story, StoryMatches

    types = {"stories": [Story], "matched": [MatchedBatch, MatchedStory], "matches": [StoryMatches, Match], "deadletter": [DeadLetter]}.get(
        kind or "", [StoryMatches, Match, MatchedBatch, MatchedStory, DeadLetter, Story]
    )
    if value is None:
        return None
    for t in types:
        try:
            return t.from_json(value)
        except InputError:
            continue
    return None


def _items(value: bytes | None, kind: str | None) -> list[tuple[bytes | None, object]]:
    """The records a message holds, each with its own JSON: one, or a batch's stories."""
    from wirewatch.model import MatchedBatch

    obj = _decode(value, kind)
    if isinstance(obj, MatchedBatch):
        return [(item.to_json(), item) for item in obj.items]
    return [(value, obj)]


def _render(record, value, obj, rules, grep, as_json):
    from wirewatch import display
    from wirewatch.model import DeadLetter, Match, MatchedStory, Story, StoryMatches
    if rules:
        if isinstance(obj, Match) and obj.rule_id not in rules:
            return None
        if isinstance(obj, MatchedStory) and not rules.intersection(obj.rules):
            return None
        if isinstance(obj, StoryMatches) and not rules.intersection(obj.rules):
            return None
        if not isinstance(obj, (Match, MatchedStory, StoryMatches)):
            return None
    if grep:
        story = getattr(obj, "story", obj) if isinstance(obj, (Match, MatchedStory, StoryMatches, Story)) else None
        haystack = f"{story.title}\n{story.body}" if story else (value or b"").decode("utf-8", "replace")
        if grep.casefold() not in haystack.casefold():
            return None
    if as_json:
        if value is None:
            return json.dumps({"key": record.key.decode("utf-8", "replace") if record.key else None, "value": None})
        return value.decode("utf-8", "replace")
    if isinstance(obj, Match):
        lines = display.match_lines(obj, grep)
    elif isinstance(obj, StoryMatches):
        lines = display.story_matches_lines(obj, grep)
    elif isinstance(obj, MatchedStory):
        lines = display.matched_lines(obj, grep)
    elif isinstance(obj, Story):
        lines = display.plain_story_lines(obj, grep)
    elif isinstance(obj, DeadLetter):
        lines = display.dead_letter_lines(obj)
    else:
        from rich.text import Text

        raw = "(tombstone)" if value is None else value.decode("utf-8", "replace")
        lines = [Text(raw[:500])]
    return lines + [display.origin(record.topic, record.partition, record.offset, record.key)]
