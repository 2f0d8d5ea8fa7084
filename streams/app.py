"""The Faust application and the topics its agents read and write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wirewatch.settings import Settings


@dataclass(frozen=True)
class Topics:
    stories: Any
    matched: Any
    matches: Any
    deadletter: Any


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


def declare_topics(app, settings: Settings) -> Topics:
    def raw(name: str):
        return app.topic(name, key_type=bytes, value_type=bytes, partitions=settings.partitions)

    return Topics(
        stories=raw(settings.stories_topic),
        matched=raw(settings.matched_topic),
        matches=raw(settings.matches_topic),
        deadletter=raw(settings.deadletter_topic),
    )
