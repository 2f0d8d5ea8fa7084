"""The topics the worker's agents read and write."""

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


def declare_topics(app, settings: Settings) -> Topics:
    def raw(name: str):
        return app.topic(name, key_type=bytes, value_type=bytes, partitions=settings.partitions)

    return Topics(
        stories=raw(settings.stories_topic),
        matched=raw(settings.matched_topic),
        matches=raw(settings.matches_topic),
        deadletter=raw(settings.deadletter_topic),
    )
