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


@dataclass
class Published:
    """The live rules as the rules topic holds them: each id's JSON, parsed only when needed.

    Comparing a rule with its published JSON is what `rules apply` does to
    every rule of the file; parsing 100,000 published rules to do it took
    longer than reading them.
    """

    raw: dict[str, bytes]

    def same(self, rule: Rule) -> bool:
        """Whether `rule` is live exactly as it is (the same id, query, name and other keys)."""
        value = self.raw.get(rule.id)
        if value is None:
            return False
        if value == rule.to_json():
            return True
        try:  # The same keys in another order are the same rule.
            return Rule.from_json(value) == rule
        except InputError:
            return False

    def rules(self, topic: str = "") -> tuple[dict[str, Rule], list[InputError]]:
        rules: dict[str, Rule] = {}
        problems: list[InputError] = []
        for key, value in self.raw.items():
            try:
                rules[key] = Rule.from_json(value)
            except InputError as exc:
                problems.append(InputError(str(exc), f"{topic} key {key!r}"))
        return rules, problems


def diff(live: Published, wanted: list[Rule], prune: bool = True) -> Change:
    change = Change()
    seen = set()
    for rule in wanted:
        seen.add(rule.id)
        if rule.id not in live.raw:
            change.added.append(rule.id)
        elif not live.same(rule):
            change.changed.append(rule.id)
    if prune:
        change.removed = sorted(set(live.raw) - seen)
    return change


def read_live(settings: Settings, timeout_s: float = 20.0) -> tuple[dict[str, Rule], list[InputError]]:
    """Every rule on the rules topic now (the last value per key; tombstones delete)."""
    return read_published(settings, timeout_s).rules(settings.rules_topic)


def read_published(settings: Settings, timeout_s: float = 20.0) -> Published:
    """What the rules topic holds now, unparsed (the last value per key; tombstones delete)."""
    import asyncio

    return Published(asyncio.run(_read_live(settings, timeout_s)))


async def _read_live(settings: Settings, timeout_s: float) -> dict[str, bytes]:
    # aiokafka (as the workers' own rules reader) reads 100,000 rules in well
    # under a second; kafka-python's consumer took seconds.
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap.split(","), group_id=None,
                                enable_auto_commit=False, client_id="wirewatch-rules-reader")
    rules: dict[str, bytes] = {}
    try:
        try:
            await consumer.start()
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka at {settings.kafka_bootstrap} is not reachable ({exc})") from exc
        partitions = await kafka_clients.partitions_of(consumer, settings.rules_topic, tries=20)
        tps = [TopicPartition(settings.rules_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        if not tps:
            return {}
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"timed out reading {settings.rules_topic}")
            batch = await consumer.getmany(*tps, timeout_ms=500, max_records=50_000)
            for messages in batch.values():
                for m in messages:
                    key = m.key.decode() if m.key else None
                    if key is None:
                        continue
                    if m.value is None:
                        rules.pop(key, None)
                    else:
                        rules[key] = m.value
        return rules
    finally:
        await consumer.stop()


def publish(settings: Settings, wanted: list[Rule], prune: bool = True, live: Published | None = None) -> Change:
    """Send what differs between `wanted` and the live rules (read now unless given); return the change."""
    from wirewatch import topics

    topics.ensure(settings, [settings.rules_topic])
    if live is None:
        live = read_published(settings)
    change = diff(live, wanted, prune)
    if not change:
        return change
    by_id = {r.id: r for r in wanted}
    messages = [(rule_id.encode(), by_id[rule_id].to_json()) for rule_id in change.added + change.changed]
    messages += [(rule_id.encode(), None) for rule_id in change.removed]
    import asyncio

    asyncio.run(_send_all(settings, messages))
    return change


async def _send_all(settings: Settings, messages: list[tuple[bytes, bytes | None]]) -> None:
    """Send (key, value) pairs to the rules topic in whole batches, each on the partition of its key, and wait for all."""
    import asyncio

    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from wirewatch.pipeline.tables import by_hash

    # Batches built here and sent whole: 100,000 rules go out in well under a
    # second (kafka-python's send() per message took six).
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all",
                                enable_idempotence=True, max_batch_size=1024 * 1024, client_id="wirewatch-rules-publisher")
    try:
        await producer.start()
        topic = settings.rules_topic
        partitions = sorted(await producer.partitions_for(topic))
        partition_of = by_hash(len(partitions))
        batches: dict[int, object] = {}
        sent = []
        for key, value in messages:
            p = partitions[partition_of(key)]
            batch = batches.get(p)
            if batch is None or batch.append(key=key, value=value, timestamp=None) is None:
                if batch is not None:
                    sent.append(await producer.send_batch(batch, topic, partition=p))
                batch = batches[p] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for p, batch in batches.items():
            sent.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*sent)
    except KafkaError as exc:
        raise ServiceUnavailable(f"Kafka at {settings.kafka_bootstrap}: could not publish rules ({exc})") from exc
    finally:
        await producer.stop()
