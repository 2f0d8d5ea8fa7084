"""Start-up on a fresh cluster: tables written before the producer knows their changelog topics.

A clean CI run once parked alerts with "'NoneType' object is not iterable":
the alert stage's outbox is written outside any stream event, Faust's
`use_partitioner=True` then asks the producer's metadata for the changelog
topic's partitions without waiting for it, and on a fresh cluster that
topic was created after the producer read its metadata.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from support import names
from support.servers import SmtpServer
from alerts_worker import AlertsWorker
from support.kafka import new_topic
from support.poll import wait_for

from wirewatch.model import Match, Story
from wirewatch.pipeline.tables import by_hash, keyed_table

pytestmark = pytest.mark.integration


def _write_before_metadata_knows(bootstrap: str, table_of) -> Exception | None:
    """Write a table entry outside any event, with a changelog topic created after the producer started."""
    import faust
    from kafka.admin import KafkaAdminClient, NewTopic

    async def scenario() -> Exception | None:
        app = faust.App(names.fresh("fresh-", 10), broker=f"kafka://{bootstrap}", store="memory://",
                        topic_partitions=2, web_enabled=False, key_serializer="raw", value_serializer="raw")
        table = table_of(app)
        await app.producer.start()
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap)
            try:
                admin.create_topics([NewTopic(table.changelog_topic.get_topic_name(), num_partitions=2, replication_factor=1)])
            finally:
                admin.close()
            try:
                table[b"alert-1"] = {"at": 1.0}
                await app.producer.flush()
            except Exception as exc:
                return exc
            return None
        finally:
            await app.producer.stop()

    return asyncio.run(scenario())


def test_faust_partitioner_tables_fail_while_the_changelog_topic_is_new(kafka_bootstrap):
    # The cause, shown on its own: this is what parked the alerts.
    error = _write_before_metadata_knows(
        kafka_bootstrap, lambda app: app.Table("outbox", partitions=2, key_type=bytes, use_partitioner=True)
    )
    assert isinstance(error, TypeError) and "not iterable" in str(error)


def test_keyed_tables_write_while_the_changelog_topic_is_new(kafka_bootstrap):
    error = _write_before_metadata_knows(kafka_bootstrap, lambda app: keyed_table(app, "outbox", 2, by_hash(2)))
    assert error is None


def test_by_hash_puts_a_key_where_the_producer_puts_its_message(kafka_bootstrap):
    from kafka import KafkaProducer

    topic = new_topic(kafka_bootstrap, "hash", 4)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    try:
        keys = [f"instant-{i}-{uuid.uuid4().hex}".encode() for i in range(40)]
        placed = {k: producer.send(topic, key=k, value=b"x").get(30).partition for k in keys}
    finally:
        producer.close()
    assert {k: by_hash(4)(k) for k in keys} == placed
    assert len(set(placed.values())) > 1


def test_alerts_arriving_at_once_on_a_fresh_cluster_are_delivered_not_parked(tmp_path, kafka_bootstrap):
    # A new topic prefix and consumer group: the worker creates its tables'
    # changelog topics as it starts, and the matches are already waiting.
    smtp = SmtpServer().start()
    rules = [{"id": f"r{i}", "realert": False, "subscribers": [{"email": f"desk{i}@example.com"}]} for i in range(6)]
    worker = AlertsWorker(tmp_path, rules, kafka_bootstrap, smtp_port=smtp.port)
    try:
        worker.send_matches([
            Match(rule_id=f"r{i % 6}", story=Story(id=f"s{i}", source="Wire", title=f"Story {i}", body="oil"))
            for i in range(60)
        ])
        worker.start()
        wait_for(lambda: len(smtp.messages) >= 60, 90, what="every alert delivered")
        ids = Counter(m["X-WireWatch-Alert"] for m in smtp.messages)
        assert len(ids) == 60 and set(ids.values()) == {1}
        assert worker.read(worker.settings.deadletter_topic, 1) == []
        assert ": parked " not in worker.log() and "not iterable" not in worker.log()
    finally:
        worker.close()
        smtp.stop()
