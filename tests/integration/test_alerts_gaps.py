"""The gap guard reads from Kafka what a stream skipped (real broker)."""

from __future__ import annotations

import asyncio

import pytest
from support.kafka import new_topic

from wirewatch.pipeline.progress import GapGuard, Raw

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_bootstrap):
    from kafka import KafkaProducer

    name = new_topic(kafka_bootstrap, "gaps", 2)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(10):
        producer.send(name, key=b"k", value=f"m{i}".encode(), partition=1)
    producer.flush()
    producer.close()
    return name, kafka_bootstrap


def test_messages_between_the_last_processed_and_the_next_are_read(topic):
    topic, bootstrap = topic
    now = [1000.0]
    table: dict = {}
    told: list[tuple] = []
    guard = GapGuard(table, bootstrap, clock=lambda: now[0], on_read_back=lambda *where: told.append(where))

    async def scenario():
        try:
            first = Raw(topic, 1, 2, b"k", b"m2")
            # Nothing processed yet: everything before it, from the partition's start, is due.
            head = await guard.missed_before(first)
            guard.done(first)
            # Faust hears about offsets read back once they are processed, not before.
            assert told == [(topic, 1, 0, 1)]
            assert await guard.missed_before(Raw(topic, 1, 3, b"k", b"m3")) == []  # the next one: no gap
            missed = await guard.missed_before(Raw(topic, 1, 7, b"k", b"m7"))
            assert len(told) == 1
            guard.done(Raw(topic, 1, 7, b"k", b"m7"))
            assert told[1:] == [(topic, 1, 0, 6)]
            guard.done(Raw(topic, 1, 5, b"k", b"m5"))  # progress never goes back
            # The end of the partition: read only once progress has been idle long enough.
            early = await guard.missed_at_tail(topic, 1, 10, idle_seconds=30)
            now[0] += 31
            tail = await guard.missed_at_tail(topic, 1, 10, idle_seconds=30)
            return head, missed, early, tail
        finally:
            await guard.close()

    head, missed, early, tail = asyncio.run(scenario())
    assert [(m.offset, m.value) for m in head] == [(0, b"m0"), (1, b"m1")]
    assert [(m.offset, m.value) for m in missed] == [(3, b"m3"), (4, b"m4"), (5, b"m5"), (6, b"m6")]
    assert early == []
    assert [m.value for m in tail] == [b"m8", b"m9"]
    assert table[f"{topic}\x1f1".encode()]["o"] == 7


def test_a_partition_nothing_was_processed_from_is_read_whole_once_idle(topic):
    topic, bootstrap = topic
    now = [1000.0]
    guard = GapGuard({}, bootstrap, clock=lambda: now[0])

    async def scenario():
        try:
            early = await guard.missed_at_tail(topic, 1, 10, idle_seconds=30)
            now[0] += 31
            return early, await guard.missed_at_tail(topic, 1, 10, idle_seconds=30)
        finally:
            await guard.close()

    early, whole = asyncio.run(scenario())
    assert early == [] and [m.offset for m in whole] == list(range(10))
