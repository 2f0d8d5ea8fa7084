"""The Faust application every worker runs, whatever stages it installs."""

from __future__ import annotations

from wirewatch.settings import Settings


def create_app(settings: Settings):
    """A Faust app for the worker: one consumer group (`app_id`) shared by all workers."""
    import faust

    datadir = settings.home / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",") if h.strip()],
        # Agents decode payloads themselves so that a bad message is caught
        # per message and parked, instead of failing inside Faust.
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        web_enabled=bool(settings.web_port),
        web_port=settings.web_port or 6066,
        datadir=str(datadir),
        store="memory://",
    )
    return app
