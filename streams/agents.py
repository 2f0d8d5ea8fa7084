"""The worker's agents: decode, call pure functions, send.  Catch per message.

Faust acks a message when its agent has finished with it, even when the
agent raised; so every failure is handled here, message by message: bad
input is parked on the dead-letter topic, and servers that are down are
waited for (the message stays un-acked until it is really done).  Each
agent also checks its own progress (`streams.progress`) so that a message
Faust skipped is read back and processed, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wirewatch.errors import WireWatchError
from wirewatch.model import MatchedStory, Story
from wirewatch.settings import Settings

from . import elastic
from .deadletter import DeadLetters
from .indexing import bulk_operations, outcome
from .live_rules import LiveRules
from .matching import match_story
from .progress import GapGuard, Raw
from .retry import retrying

log = logging.getLogger("wirewatch.streams")

# How long a partition may show unprocessed messages at its end, with no
# progress, before they are read back directly (see streams.progress).
TAIL_IDLE_SECONDS = 20.0


def install_rules(app, rules: LiveRules) -> None:
    @app.task
    async def follow_rules() -> None:
        await rules.run()


class MatchStage:
    """Matches stories and sends what they matched; never raises."""

    def __init__(self, topics, rules: LiveRules, dead: DeadLetters, guard: GapGuard) -> None:
        self.topics = topics
        self.rules = rules
        self.dead = dead
        self.guard = guard
        self.lock = asyncio.Lock()  # the agent and the tail check take turns

    async def handle(self, raws: list[Raw]) -> None:
        async with self.lock:
            for raw in await self.guard.fill(raws):
                await self._one(raw)
            self.guard.done_all(raws)

    async def _one(self, raw: Raw) -> None:
        try:
            story = Story.from_json(raw.value or b"", raw.where())
            matched, matches = match_story(self.rules.matcher, story)
        except Exception as exc:  # one bad story must never stop the worker
            await self.dead.park("match", exc, raw)
            return
        await self.topics.matched.send(key=story.id.encode(), value=matched.to_json())
        for m in matches:
            await self.topics.matches.send(key=m.rule_id.encode(), value=m.to_json())
        if matches:
            log.info("%s %s v%d matched %s", raw.where(), story.id, story.version, ", ".join(matched.rules))


class IndexStage:
    """Writes batches of MatchedStory to Elasticsearch; never raises."""

    def __init__(self, settings: Settings, es, dead: DeadLetters, guard: GapGuard) -> None:
        self.settings = settings
        self.es = es
        self.dead = dead
        self.guard = guard
        self.lock = asyncio.Lock()
        self.indexed = 0
        self.stale = 0

    async def handle(self, raws: list[Raw]) -> None:
        async with self.lock:
            items: list[tuple[MatchedStory, Raw]] = []
            for raw in await self.guard.fill(raws):
                try:
                    items.append((MatchedStory.from_json(raw.value or b"", raw.where()), raw))
                except Exception as exc:
                    await self.dead.park("index", exc, raw)
            # Items the cluster could not take yet (429, 5xx on a shard) are
            # retried with backoff until they are in; nothing is acked before.
            async for attempt in retrying(log, f"indexing {len(items)} stories in {self.settings.index}"):
                with attempt:
                    items = await self._write(items)
                    if items:
                        raise _PartialBulk(f"{len(items)} stories not yet accepted by Elasticsearch")
            self.guard.done_all(raws)

    async def _write(self, items: list[tuple[MatchedStory, Raw]]) -> list[tuple[MatchedStory, Raw]]:
        if not items:
            return []
        results = await elastic.bulk(self.es, bulk_operations([i for i, _ in items], self.settings.index))
        again = []
        for (item, raw), result in zip(items, results, strict=True):
            kind, reason = outcome(result)
            if kind == "indexed":
                self.indexed += 1
            elif kind == "stale":
                self.stale += 1
                log.info("%s %s v%d not indexed: %s", raw.where(), item.story.id, item.story.version, reason)
            elif kind == "retry":
                again.append((item, raw))
            else:
                await self.dead.park("index", WireWatchError(reason), raw)
        return again


class _PartialBulk(WireWatchError):
    retriable = True


def install_matching(app, topics, stage: MatchStage) -> None:
    @app.agent(topics.stories, name="wirewatch.match")
    async def match(stream) -> None:
        await stage.rules.ready.wait()
        async for event in stream.events():
            await stage.handle([Raw.of(event)])


def install_indexing(app, topics, settings: Settings, stage: IndexStage) -> None:
    @app.agent(topics.matched, name="wirewatch.index")
    async def index(stream) -> None:
        async for events in stream.take_events(settings.index_batch, within=settings.index_batch_seconds):
            await stage.handle([Raw.of(e) for e in events])


def install_tail_check(app, stages: dict[str, MatchStage | IndexStage], every: float = 5.0) -> None:
    """Now and then, process messages stuck at the end of a partition that no agent saw."""

    @app.timer(every, name="wirewatch.tail-check")
    async def tail_check() -> None:
        from faust.types import TP

        for tp in app.assignor.assigned_actives():
            stage = stages.get(tp.topic)
            if stage is None:
                continue
            try:
                end = app.consumer.highwater(TP(tp.topic, tp.partition))
                missed = await stage.guard.missed_at_tail(tp.topic, tp.partition, end, TAIL_IDLE_SECONDS)
                if missed:
                    await stage.handle(missed)
            except Exception:  # an exception would end the timer for good
                log.exception("tail check of %s[%d] failed", tp.topic, tp.partition)
