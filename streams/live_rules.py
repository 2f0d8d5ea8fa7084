"""The rule set every worker matches with, followed live from the rules topic.

The rules topic is compacted (key = rule id, value = rule JSON, an empty
value deletes).  Every worker needs *all* rules, so this reader assigns
itself every partition and keeps no consumer group, like a Kafka Streams
global table.  Updates are applied between two stories on the worker's
event loop, so a story is matched entirely by the old rule set or entirely
by the new one: none is dropped or matched twice by a change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from wirewatch.errors import InputError, WireWatchError
from wirewatch.query import Matcher, parse
from wirewatch.rules import Rule
from wirewatch.settings import Settings

log = logging.getLogger("wirewatch.rules")

ProblemHandler = Callable[[BaseException, object], Awaitable[None]]


class LiveRules:
    def __init__(self, settings: Settings, on_problem: ProblemHandler | None = None) -> None:
        self.settings = settings
        self.topic = settings.rules_topic
        self.matcher = Matcher()
        self.rules: dict[str, Rule] = {}
        self.ready = asyncio.Event()
        self.version = 0  # counts changes, so users of `rules` can cache what they derive
        self._on_problem = on_problem

    async def run(self) -> None:
        """Load every rule, set `ready`, then follow changes until cancelled."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self.settings.app_id}-rules",
        )
        await consumer.start()
        try:
            partitions = await self._partitions(consumer)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            initial: dict[str, Rule] = {}
            loading = True
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for messages in batch.values():
                    for message in messages:
                        await self._apply(message, initial if loading else None)
                if loading and await _caught_up(consumer, tps, end):
                    self._load(initial)
                    loading = False
        finally:
            await consumer.stop()

    async def _partitions(self, consumer) -> set[int]:
        # The topic is created by the worker's bootstrap; metadata may lag a moment behind.
        for _ in range(100):
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                return partitions
            # aiokafka's public topics() does not refresh what partitions_for_topic reads.
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        raise WireWatchError(f"rules topic {self.topic} does not exist")

    def _load(self, initial: dict[str, Rule]) -> None:
        self.matcher = Matcher.from_rules(initial.values()) if initial else Matcher()
        self.rules = dict(initial)
        self.version += 1
        self.ready.set()
        log.info("loaded %d rules from %s", len(self.rules), self.topic)

    async def _apply(self, message, initial: dict[str, Rule] | None) -> None:
        rule_id = message.key.decode("utf-8", "replace") if message.key else None
        try:
            if rule_id is None:
                raise InputError("rule message has no key (the key must be the rule id)")
            if message.value is None:
                (initial if initial is not None else self.rules).pop(rule_id, None)
                if initial is None and rule_id in self.matcher:
                    self.matcher.remove(rule_id)
                    self.version += 1
                    log.info("rule %s removed", rule_id)
                return
            rule = Rule.from_json(message.value)
            if rule.id != rule_id:
                raise InputError(f"rule id {rule.id!r} differs from the message key {rule_id!r}")
            if initial is not None:
                # Validate now so one bad rule is reported alone, not when the
                # whole set is built.
                parse(rule.query)
                initial[rule.id] = rule
                return
            self.matcher.add(rule.id, rule.query)
            self.rules[rule.id] = rule
            self.version += 1
            log.info("rule %s updated: %s", rule.id, rule.query)
        except WireWatchError as exc:
            log.error("rules: skipped %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc)
            if self._on_problem is not None:
                await self._on_problem(exc, message)


async def _caught_up(consumer, tps, end) -> bool:
    for tp in tps:
        if await consumer.position(tp) < end[tp]:
            return False
    return True
