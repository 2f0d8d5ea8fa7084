"""Rules on Kafka: read the live set from the compacted rules topic, publish changes.

Only the difference is sent (changed rules, and a tombstone for each rule
that is gone), so applying the same file twice sends nothing and workers
see only real changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from wirewatch import kafka_clients
from wirewatch.errors import InputError, ServiceUnavailable
from wirewatch.rules import Rule
from wirewatch.settings import Settings


@dataclass
class Change:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def diff(live: dict[str, Rule], wanted: list[Rule], prune: bool = True) -> Change:
    change = Change()
    ids = set()
    for rule in wanted:
        ids.add(rule.id)
        if rule.id not in live:
            change.added.append(rule.id)
        elif live[rule.id] != rule:
            change.changed.append(rule.id)
    if prune:
        change.removed = sorted(set(live) - ids)
    return change


def read_live(settings: Settings, timeout_s: float = 20.0) -> tuple[dict[str, Rule], list[InputError]]:
    """Every rule on the rules topic now (the last value per key; tombstones delete)."""
    from kafka import TopicPartition

    consumer = kafka_clients.consumer(settings, "wirewatch-rules-reader")
    rules: dict[str, Rule] = {}
    problems: list[InputError] = []
    try:
        partitions = consumer.partitions_for_topic(settings.rules_topic) or set()
        tps = [TopicPartition(settings.rules_topic, p) for p in partitions]
        if not tps:
            return {}, []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"timed out reading {settings.rules_topic}")
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for m in messages:
                    key = m.key.decode() if m.key else None
                    if key is None:
                        continue
                    if m.value is None:
                        rules.pop(key, None)
                        continue
                    try:
                        rules[key] = Rule.from_json(m.value)
                    except InputError as exc:
                        problems.append(InputError(str(exc), f"{m.topic}[{m.partition}]@{m.offset}"))
        return rules, problems
    finally:
        consumer.close()


def publish(settings: Settings, wanted: list[Rule], prune: bool = True) -> Change:
    """Send what differs between `wanted` and the live rules; return the change."""
    from wirewatch import topics

    topics.ensure(settings, [settings.rules_topic])
    live, _ = read_live(settings)
    change = diff(live, wanted, prune)
    if not change:
        return change
    by_id = {r.id: r for r in wanted}
    producer = kafka_clients.producer(settings, "wirewatch-rules-publisher")
    try:
        for rule_id in change.added + change.changed:
            producer.send(settings.rules_topic, key=rule_id.encode(), value=by_id[rule_id].to_json())
        for rule_id in change.removed:
            producer.send(settings.rules_topic, key=rule_id.encode(), value=None)
        producer.flush(timeout=30)
    finally:
        producer.close()
    return change

