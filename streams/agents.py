"""The worker's agents: decode, call pure functions, send.  Catch per message.

Faust acks a message when its agent has finished with it, even when the
agent raised; so every failure is handled here, message by message: bad
input is parked on the dead-letter topic, and servers that are down are
waited for (the message stays un-acked until it is really done).  Each
agent also checks its own progress (`wirewatch.pipeline.progress`) so that a message
Faust skipped is read back and processed, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from functools import partial
from itertools import chain
from collections.abc import Callable, Container

from wirewatch.errors import PermanentError, WireWatchError
from wirewatch.model import MatchedBatch, Story, utcnow
from wirewatch.settings import Settings

from wirewatch.pipeline.deadletter import DeadLetters
from wirewatch.pipeline.failures import PerMessage
from wirewatch.pipeline.counters import Counters
from wirewatch.pipeline.progress import GapGuard, Raw
from wirewatch.pipeline.publish import Publisher
from wirewatch.pipeline.retry import retrying
from wirewatch.pipeline.tables import by_hash

from . import elastic
from .indexing import Doc, bulk_operations, entries_of_message, outcome
from .live_rules import LiveRules
from .matching import match_story, runs

log = logging.getLogger("wirewatch.streams")

# How long a partition may show unprocessed messages at its end, with no
# progress, before they are read back directly (see wirewatch.pipeline.progress).
TAIL_IDLE_SECONDS = 20.0
BUG_HORIZON_SECONDS = 60.0
# A stage that just indexed a full bulk request's worth in one take still
# counts as behind this long: the next take is usually on its way.
BEHIND_AFTER_FULL_SECONDS = 0.5
# Messages of the matched topic the index stage takes at once: each carries
# up to a match batch of stories, cut into bulk requests of `index_batch`.
INDEX_TAKE_MESSAGES = 64


def install_rules(app, rules: LiveRules) -> None:
    @app.task
    async def follow_rules() -> None:
        await rules.run()


class MatchStage:
    """Matches stories and sends what they matched; never raises."""

    def __init__(
        self,
        topics,
        publisher: Publisher,
        rules: LiveRules,
        dead: DeadLetters,
        guard: GapGuard,
        subscribed: Container[str] = frozenset(),
        partitions: int = 1,
        clock: Callable[[], float] = time.monotonic,
        batch_max: int = 500,
    ) -> None:
        self.publisher = publisher
        self.batch_max = batch_max
        self.matched_topic = topics.matched.get_topic_name()
        self.matches_topic = topics.matches.get_topic_name()
        self.rules = rules
        self.guard = guard
        # Rules with someone to alert (kept up to date by the rule book):
        # only their matches go to the alert stage.
        self.subscribed = subscribed
        # The alert stage keeps a rule's state on the partition Kafka would
        # give a message keyed by the rule id.
        self.partition_of = by_hash(partitions)
        self.partitions = partitions
        # A story that trips a bug is parked (with the traceback) after this
        # long, so that it cannot hold up its partition for good.
        self.failures = PerMessage("match", dead, log, bug_horizon_s=BUG_HORIZON_SECONDS, park_later=True)
        self.lock = asyncio.Lock()  # the agent and the tail check take turns
        self.counts = Counters("match", log, clock)
        # Matches per rule, when the metrics want them (they export only the top rules).
        self.rule_matches: Counter[str] | None = None

    async def handle(self, raws: list[Raw]) -> None:
        async with self.lock:
            out: dict[int, list[tuple[Raw, bytes]]] = {}
            todo = await self.guard.fill(raws)
            tally = _Tally()
            try:
                for raw in todo:
                    await self.failures.run(partial(self._one, out=out, tally=tally), raw)
            finally:
                self._count(len(todo), tally)
            # What the batch matched goes to the index stage as a few
            # messages per partition, in order, on the partition the stories
            # came from (the one their keys hash to).
            for partition, done in out.items():
                for run in runs(done, lambda d: len(d[1]), self.batch_max):
                    job = _Run(partition, run)
                    await self.failures.run(self._send_run, job, parks=lambda job=job: [raw for raw, _ in job.items])
            await self.failures.settle()
            self.guard.done_all(raws)
        self.counts.report()

    async def _one(self, raw: Raw, out: dict[int, list[tuple[Raw, bytes]]], tally: "_Tally") -> None:
        story = Story.from_json(raw.value or b"", raw.where())
        matched, groups = match_story(self.rules.matcher, story, self.subscribed, self.partition_of, self.partitions)
        key = story.id.encode()
        for partition, group in groups.items():
            await self.publisher.send(self.matches_topic, key, group.to_json(), partition)
        out.setdefault(raw.partition, []).append((raw, matched.to_json()))
        # Counted once the story is done: a story tried again is counted once.
        tally.stories += 1
        if matched.rules:
            tally.rules.append(matched.rules)
        for group in groups.values():
            tally.to_alerts += len(getattr(group, "rules", ()))

    def _count(self, consumed: int, tally: "_Tally") -> None:
        matches = sum(map(len, tally.rules))
        self.counts.add(consumed=consumed, stories=tally.stories, matched=len(tally.rules), matches=matches,
                        to_alerts=tally.to_alerts)
        if matches and self.rule_matches is not None:
            self.rule_matches.update(chain.from_iterable(tally.rules))

    async def _send_run(self, job: "_Run") -> None:
        await self.publisher.send(self.matched_topic, None, MatchedBatch.join([part for _, part in job.items]), job.partition)


class _Tally:
    """What the stories of one batch matched, counted once per batch (per story, counting cost about as much as parsing the story)."""

    __slots__ = ("stories", "rules", "to_alerts")

    def __init__(self) -> None:
        self.stories = 0
        self.rules: list[tuple[str, ...]] = []  # of each story that matched any
        self.to_alerts = 0


class _Run:
    """Matched stories of one partition, in order, for one message of the matched topic."""

    def __init__(self, partition: int, items: list[tuple[Raw, bytes]]) -> None:
        self.partition = partition
        self.items = items

    def where(self) -> str:
        first, last = self.items[0][0], self.items[-1][0]
        return f"what {len(self.items)} stories from {first.where()} to {last.where()} matched"


class IndexStage:
    """Writes batches of MatchedStory to Elasticsearch; never raises."""

    def __init__(self, settings: Settings, es, dead: DeadLetters, guard: GapGuard) -> None:
        self.settings = settings
        self.es = es
        self.guard = guard
        # A batch that trips a bug is parked (with the traceback) after this long.
        self.failures = PerMessage("index", dead, log, bug_horizon_s=BUG_HORIZON_SECONDS, park_later=True)
        self.lock = asyncio.Lock()
        self.indexed = 0
        self.stale = 0
        # Until when (monotonic) this stage counts as behind: while it works
        # on a take of a full bulk request or more, and briefly after one.
        self.behind_until = 0.0
        # Told of each bulk answer: (seconds, received times of the stories indexed, refused items by kind).
        self.on_bulk: Callable[[float, list, Counter[str]], None] | None = None

    async def handle(self, raws: list[Raw]) -> None:
        async with self.lock:
            pending: list[tuple[Doc, Raw]] = []
            for raw in await self.guard.fill(raws):
                for entry in entries_of_message(raw.value or b"", raw.where()):
                    # A story of a batch is parked, and its document written, as itself.
                    each = raw if entry.n is None else raw.item_of(entry.n, entry.payload, entry.key)
                    if entry.doc is not None:
                        pending.append((entry.doc, each))
                    elif entry.error is not None:
                        await self.failures.park(entry.error, each, later=True)
            full = len(pending) >= self.settings.index_batch
            if full:
                self.behind_until = float("inf")
            # A few bulk requests in flight at once, so that Elasticsearch
            # indexes one while the next is built and sent.
            batches = [_Batch(run) for run in runs(pending, lambda _: 0, self.settings.index_batch)]
            gate = asyncio.Semaphore(self.settings.index_concurrency)

            async def write(batch: _Batch) -> None:
                async with gate:
                    await self.failures.run(self._write_all, batch, parks=lambda: [raw for _, raw in batch.items])

            try:
                await asyncio.gather(*(write(b) for b in batches))
                await self.failures.settle()
                self.guard.done_all(raws)
            finally:
                if full:
                    self.behind_until = time.monotonic() + BEHIND_AFTER_FULL_SECONDS

    async def _write_all(self, batch: "_Batch") -> None:
        # Items the cluster could not take yet (429, 5xx on a shard) are
        # retried with backoff until they are in; nothing is acked before.
        async for attempt in retrying(log, f"indexing {len(batch.items)} stories in {self.settings.index}"):
            with attempt:
                batch.items = await self._write(batch.items)
                if batch.items:
                    raise _PartialBulk(f"{len(batch.items)} stories not yet accepted by Elasticsearch")

    async def _write(self, items: list[tuple[Doc, Raw]]) -> list[tuple[Doc, Raw]]:
        if not items:
            return []
        started = time.perf_counter()
        results = await elastic.bulk(self.es, bulk_operations([i for i, _ in items], self.settings.index, utcnow()))
        seconds = time.perf_counter() - started
        again, stale, received, refused = [], [], [], Counter()
        for (item, raw), result in zip(items, results, strict=True):
            kind, reason = outcome(result)
            if kind == "indexed":
                self.indexed += 1
                received.append(item.source.get("received"))
            elif kind == "stale":
                stale.append((item, raw))
            elif kind == "retry":
                refused[kind] += 1
                again.append((item, raw))
            else:
                refused[kind] += 1
                await self.failures.park(PermanentError(f"{raw.where()}: {reason}"), raw, later=True)
        if self.on_bulk is not None:
            self.on_bulk(seconds, received, refused)
        if stale:
            # One line per batch: after a crash a whole redelivered batch lands here.
            self.stale += len(stale)
            (item, raw) = stale[0]
            log.info("%d stories not written again: this version or a newer one is already indexed (first: %s %s v%d)",
                     len(stale), raw.where(), item.id, item.version)
        return again


class _PartialBulk(WireWatchError):
    retriable = True


class _Batch:
    """The stories of one bulk request not yet accepted by Elasticsearch."""

    def __init__(self, items: list[tuple[Doc, Raw]]) -> None:
        self.items = items

    def where(self) -> str:
        first, last = self.items[0][1], self.items[-1][1]
        return f"a batch of {len(self.items)} from {first.where()} to {last.where()}"


def install_matching(app, topics, settings: Settings, stage: MatchStage) -> None:
    @app.agent(topics.stories, name="wirewatch.match")
    async def match(stream) -> None:
        await stage.rules.ready.wait()
        # In batches: progress is recorded once per batch, not per story.
        async for events in stream.take_events(settings.match_batch, within=settings.match_batch_seconds):
            await stage.handle([Raw.of(e) for e in events])


def install_indexing(app, topics, settings: Settings, stage: IndexStage) -> None:
    @app.agent(topics.matched, name="wirewatch.index")
    async def index(stream) -> None:
        async for events in stream.take_events(INDEX_TAKE_MESSAGES, within=settings.index_batch_seconds):
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
