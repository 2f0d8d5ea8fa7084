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
import time
from collections.abc import Awaitable, Callable

from wirewatch import kafka_clients
from wirewatch.errors import InputError, WireWatchError
from wirewatch.gcpause import collector_paused
from wirewatch.query import Matcher
from wirewatch.rules import Rule
from wirewatch.settings import Settings

log = logging.getLogger("wirewatch.rules")

ProblemHandler = Callable[[BaseException, object], Awaitable[None]]
# Told of every change: (rule id, the rule now, or None when it was removed).
ChangeListener = Callable[[str, Rule | None], None]


class LiveRules:
    def __init__(self, settings: Settings, on_problem: ProblemHandler | None = None) -> None:
        self.settings = settings
        self.topic = settings.rules_topic
        self.engine = None if settings.matcher_engine == "auto" else settings.matcher_engine
        self.matcher = Matcher(self.engine)
        self.rules: dict[str, Rule] = {}
        self.ready = asyncio.Event()
        self._on_problem = on_problem
        self._started = 0.0  # when reading the rules topic began
        self._listeners: list[tuple[Callable[[dict[str, Rule]], None], ChangeListener]] = []
        self._read: dict[int, int] = {}  # next offset per partition of the rules topic

    def follow(self, on_load: Callable[[dict[str, Rule]], None], on_change: ChangeListener) -> None:
        """Keep something derived from the rules up to date: `on_load` gets the whole set, `on_change` each change."""
        self._listeners.append((on_load, on_change))

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
            initial: dict[str, tuple[Rule, object]] = {}
            loading = True
            self._started = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=20000)
                for messages in batch.values():
                    for message in messages:
                        await self._apply(message, initial if loading else None)
                if loading and await _caught_up(consumer, tps, end):
                    await self._load(initial)
                    loading = False
        finally:
            await consumer.stop()

    async def _partitions(self, consumer) -> set[int]:
        # The topic is created by the worker's bootstrap; metadata may lag a moment behind.
        partitions = await kafka_clients.partitions_of(consumer, self.topic)
        if not partitions:
            raise WireWatchError(f"rules topic {self.topic} does not exist")
        return partitions

    async def _load(self, initial: dict[str, tuple[Rule, object]]) -> None:
        # Each query is parsed once, here, as the index is built; a bad one
        # is reported with the message it came in and left out.
        bad: list = []

        def build() -> Matcher:
            with collector_paused():  # the listeners too make an object or more per rule
                matcher = Matcher.from_rules((rule for rule, _ in initial.values()), on_error=bad.append, engine=self.engine)
                for error in bad:
                    initial.pop(error.rule_id, None)
                rules = {rule_id: rule for rule_id, (rule, _) in initial.items()}
                for on_load, _ in self._listeners:
                    on_load(rules)
            self.rules = rules
            return matcher

        # Seconds of work at 100,000 rules: in a thread, so that the event
        # loop goes on with the worker's start (joining the group, recovering
        # tables) meanwhile.  Nothing reads the rules before `ready`.
        messages = {rule_id: message for rule_id, (_, message) in initial.items()}
        read = time.monotonic()
        self.matcher = await asyncio.to_thread(build)
        built = time.monotonic()
        for error in bad:
            await self._problem(InputError(f"rule {error.rule_id!r}: {error.message}"), messages[error.rule_id])
        self.ready.set()
        log.info("loaded %d rules from %s in %.1f s (read %.1f s, index built %.1f s)", len(self.rules), self.topic,
                 built - self._started, read - self._started, built - read)

    def _changed(self, rule_id: str, rule: Rule | None) -> None:
        for _, on_change in self._listeners:
            on_change(rule_id, rule)

    async def _problem(self, exc: WireWatchError, message) -> None:
        log.error("rules: skipped %s[%d]@%d: %s", message.topic, message.partition, message.offset, exc)
        if self._on_problem is not None:
            await self._on_problem(exc, message)

    @property
    def version(self) -> int:
        """How many rule messages have been read: the same on every worker that is up to date."""
        return sum(self._read.values())

    async def _apply(self, message, initial: dict[str, Rule] | None) -> None:
        self._read[message.partition] = message.offset + 1
        rule_id = message.key.decode("utf-8", "replace") if message.key else None
        try:
            if rule_id is None:
                raise InputError("rule message has no key (the key must be the rule id)")
            if message.value is None:
                (initial if initial is not None else self.rules).pop(rule_id, None)
                if initial is None and rule_id in self.matcher:
                    self.matcher.remove(rule_id)
                    self._changed(rule_id, None)
                    log.info("rule %s removed", rule_id)
                return
            rule = Rule.from_json(message.value)
            if rule.id != rule_id:
                raise InputError(f"rule id {rule.id!r} differs from the message key {rule_id!r}")
            if initial is not None:
                initial[rule.id] = (rule, message)
                return
            self.matcher.add(rule.id, rule.query)
            self.rules[rule.id] = rule
            self._changed(rule.id, rule)
            log.info("rule %s updated: %s", rule.id, rule.query)
        except WireWatchError as exc:
            await self._problem(exc, message)


async def _caught_up(consumer, tps, end) -> bool:
    for tp in tps:
        if await consumer.position(tp) < end[tp]:
            return False
    return True
