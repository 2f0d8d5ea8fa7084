"""kafka-python clients built from settings, with one way of saying Kafka is down.

Producers, `tail`, `rules` and topic creation all come through here, so
every command gives the same clear message when the broker cannot be
reached instead of a client's stack trace.
"""

from __future__ import annotations

from .errors import ServiceUnavailable
from .settings import Settings

BOOTSTRAP_TIMEOUT_MS = 10_000


def _servers(settings: Settings) -> list[str]:
    return [h.strip() for h in settings.kafka_bootstrap.split(",") if h.strip()]


def _unreachable(settings: Settings, exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Kafka at {settings.kafka_bootstrap} is not reachable ({exc}); is it running? (`wirewatch services status`)"
    )


def _build(settings: Settings, factory, **config):
    from kafka.errors import KafkaError

    try:
        return factory(bootstrap_servers=_servers(settings), bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS, **config)
    except KafkaError as exc:
        raise _unreachable(settings, exc) from exc


def producer(settings: Settings, client_id: str, **config):
    """An idempotent producer whose sends are on every in-sync replica when acknowledged."""
    from kafka import KafkaProducer

    return _build(settings, KafkaProducer, client_id=client_id, acks="all", enable_idempotence=True, **config)


def consumer(settings: Settings, client_id: str, **config):
    """A consumer outside any group: the caller assigns partitions itself."""
    from kafka import KafkaConsumer

    return _build(settings, KafkaConsumer, client_id=client_id, group_id=None, enable_auto_commit=False, **config)


def admin(settings: Settings, client_id: str = "wirewatch-admin", request_timeout_ms: int = 30_000):
    from kafka import KafkaAdminClient

    return _build(settings, KafkaAdminClient, client_id=client_id, request_timeout_ms=request_timeout_ms)


async def partitions_of(consumer, topic: str, tries: int = 100) -> set[int]:
    """The partitions of `topic` as an aiokafka consumer sees them; empty if it does not exist.

    A consumer outside any group learns of a topic only from a metadata
    refresh, and aiokafka's public `topics()` does not refresh what
    `partitions_for_topic` reads; a topic created a moment ago may also
    lag behind in the broker's metadata.
    """
    import asyncio

    for _ in range(tries):
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return set(partitions)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.05)
    return set()
