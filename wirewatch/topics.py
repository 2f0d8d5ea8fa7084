"""Create WireWatch's topics with the partition count and retention they need.

Kafka's own auto-creation would make one-partition topics, which would cap a
consumer group at one worker; so producers and workers ensure the topics
before they use them.
"""

from __future__ import annotations

import logging

from . import kafka_clients
from .errors import ServiceUnavailable
from .settings import Settings

log = logging.getLogger(__name__)


def specs(settings: Settings) -> dict[str, dict[str, str]]:
    """Topic name -> topic configs."""
    return {
        settings.stories_topic: {},
        settings.matched_topic: {},
        settings.matches_topic: {},
        settings.alerts_topic: {},
        settings.deadletter_topic: {},
        # Ticks are only worth something for a moment.
        settings.alerts_ticks_topic: {"retention.ms": str(3_600_000)},
        # Rules are a table: the newest value per rule id, deletes by tombstone.
        settings.rules_topic: {"cleanup.policy": "compact"},
    }


def ensure(settings: Settings, names: list[str] | None = None, timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

    wanted = specs(settings)
    if names is not None:
        wanted = {n: wanted.get(n, {}) for n in names}
    admin = kafka_clients.admin(settings, request_timeout_ms=int(timeout_s * 1000))
    try:
        # Only the topics wanted are described: listing every topic of a
        # large cluster took longer than the rest of a one-rule `rules apply`.
        missing = [t["name"] for t in admin.describe_topics(list(wanted)) if t["error_code"] == UnknownTopicOrPartitionError.errno]
        if not missing:
            return []
        new = [
            NewTopic(n, num_partitions=settings.partitions, replication_factor=settings.replication, topic_configs=wanted[n])
            for n in missing
        ]
        # Per topic: one may exist after all (another process won the race,
        # or was created a moment ago and not yet in this broker's metadata).
        answer = admin.create_topics(new, timeout_ms=int(timeout_s * 1000), raise_errors=False)
        created, failed = [], []
        for topic in answer["topics"]:
            if topic["error_code"] == 0:
                created.append(topic["name"])
            elif topic["error_code"] != TopicAlreadyExistsError.errno:
                failed.append(f"{topic['name']}: {topic['error_message'] or 'error ' + str(topic['error_code'])}")
        if failed:
            raise ServiceUnavailable(f"Kafka at {settings.kafka_bootstrap} could not create " + "; ".join(failed))
        if created:
            # Their leaders elected, they are usable on return.
            admin.wait_for_topics(created, timeout_ms=int(timeout_s * 1000))
            log.info("created topics %s", ", ".join(created))
        return created
    except KafkaError as exc:
        raise ServiceUnavailable(f"Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        admin.close()
