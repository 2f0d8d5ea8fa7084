"""The worker's agents: decode, call pure functions, send.  Catch per message.

Faust acks a message when its agent has finished with it, even when the
agent raised; so every failure is handled here, message by message: bad
input is parked on the dead-letter topic, and servers that are down are
waited for (the message stays un-acked until it is really done).
"""

from __future__ import annotations

import logging
from typing import Any

from wirewatch.errors import WireWatchError
from wirewatch.model import MatchedStory, Story
from wirewatch.settings import Settings

from . import elastic
from .deadletter import DeadLetters, where
from .indexing import bulk_operations, outcome
from .live_rules import LiveRules
from .matching import match_story
from .retry import retrying

log = logging.getLogger("wirewatch.streams")


def install_rules(app, rules: LiveRules) -> None:
    @app.task
    async def follow_rules() -> None:
        await rules.run()


def install_matching(app, topics, rules: LiveRules, dead: DeadLetters) -> None:
    @app.agent(topics.stories, name="wirewatch.match")
    async def match(stream) -> None:
        await rules.ready.wait()
        async for event in stream.events():
            message = event.message
            try:
                story = Story.from_json(event.value, where(message))
                matched, matches = match_story(rules.matcher, story)
            except Exception as exc:  # one bad story must never stop the worker
                await dead.park("match", exc, message)
                continue
            await topics.matched.send(key=story.id.encode(), value=matched.to_json())
            for m in matches:
                await topics.matches.send(key=m.rule_id.encode(), value=m.to_json())
            if matches:
                log.info(
                    "%s %s v%d matched %s", where(message), story.id, story.version, ", ".join(matched.rules)
                )


class Indexer:
    """Writes batches of MatchedStory to Elasticsearch; never raises."""

    def __init__(self, settings: Settings, es, dead: DeadLetters) -> None:
        self.settings = settings
        self.es = es
        self.dead = dead
        self.indexed = 0
        self.stale = 0

    async def handle(self, events: list[Any]) -> None:
        items: list[tuple[MatchedStory, Any]] = []
        for event in events:
            try:
                items.append((MatchedStory.from_json(event.value, where(event.message)), event.message))
            except Exception as exc:
                await self.dead.park("index", exc, event.message)
        # Items the cluster could not take yet (429, 5xx on a shard) are
        # retried with backoff until they are in; nothing is acked before.
        async for attempt in retrying(log, f"indexing {len(items)} stories in {self.settings.index}"):
            with attempt:
                items = await self._write(items)
                if items:
                    raise _PartialBulk(f"{len(items)} stories not yet accepted by Elasticsearch")

    async def _write(self, items: list[tuple[MatchedStory, Any]]) -> list[tuple[MatchedStory, Any]]:
        if not items:
            return []
        results = await elastic.bulk(self.es, bulk_operations([i for i, _ in items], self.settings.index))
        again = []
        for (item, message), result in zip(items, results, strict=True):
            kind, reason = outcome(result)
            if kind == "indexed":
                self.indexed += 1
            elif kind == "stale":
                self.stale += 1
                log.info("%s %s v%d not indexed: %s", where(message), item.story.id, item.story.version, reason)
            elif kind == "retry":
                again.append((item, message))
            else:
                await self.dead.park("index", WireWatchError(reason), message)
        return again


class _PartialBulk(WireWatchError):
    retriable = True


def install_indexing(app, topics, settings: Settings, indexer: Indexer) -> None:
    @app.agent(topics.matched, name="wirewatch.index")
    async def index(stream) -> None:
        async for events in stream.take_events(settings.index_batch, within=settings.index_batch_seconds):
            await indexer.handle(events)
