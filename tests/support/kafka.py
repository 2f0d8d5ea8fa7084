"""Read a whole topic back, for assertions."""

from __future__ import annotations

from kafka import TopicPartition

from wirewatch import kafka_clients
from wirewatch.settings import Settings


def topic_records(settings: Settings, topic: str) -> list:
    """Every record of `topic` now, partition by partition in offset order."""
    consumer = kafka_clients.consumer(settings, "test-reader")
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return []  # not created yet
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def new_topic(bootstrap: str, prefix: str, partitions: int) -> str:
    """A topic of its own for one test."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from .names import fresh

    name = fresh(f"{prefix}-", 10)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return name
