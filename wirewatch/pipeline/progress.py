"""Notice messages a stream never delivered, and read them from Kafka.

faust-streaming 0.15 can commit an offset past a message no agent processed
around rebalances and recovery (upstream issues #596 and #606: a message
cleared from an agent's queue, then a commit that steps over a gap of one
at the head of the acknowledged offsets).  At-least-once is the promise
WireWatch makes, so each agent keeps its own durable record of the last
offset it processed per partition, in a changelog-backed table, and checks
every message against it: a message further on than the next expected
offset means a gap, and the missing range is read straight from Kafka and
processed first.  Every stage's processing is idempotent, so reading too
much is harmless; reading too little is what this prevents.  A gap at the
end of a partition (nothing arrives after it) is found by `missed_at_tail`,
which the stages call on a timer.

Faust, for its part, commits a partition only up to the first offset its
stream never acknowledged: the messages read back here would hold its
commit there for good (the group's lag then never reaches 0, and a restart
reads everything after it again).  Once they are processed, `on_read_back`
(see `faust_gaps`) tells Faust's consumer that everything up to the last
of them is acknowledged, so its next commit passes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("wirewatch.progress")

SEP = "\x1f"


@dataclass(frozen=True)
class Raw:
    """One Kafka message, wherever it was read from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None
    # One story of a message that carries several: its place there.
    item: int | None = None

    @classmethod
    def of(cls, event: Any) -> "Raw":
        """The message of a Faust event."""
        msg = event.message
        return cls(msg.topic, msg.partition, msg.offset, event.key, event.value, msg.timestamp)

    def item_of(self, n: int, value: bytes | None, key: bytes | None) -> "Raw":
        """Item `n` of this message, as a message of its own (to park it alone); `dataclasses.replace` took twice as long."""
        return Raw(self.topic, self.partition, self.offset, key, value, self.timestamp, n)

    def where(self) -> str:
        at = f"{self.topic}[{self.partition}]@{self.offset}"
        return at if self.item is None else f"{at} item {self.item}"


def key_of(topic: str, partition: int) -> bytes:
    return f"{topic}{SEP}{partition}".encode()


class GapGuard:
    """Per-partition progress of one agent, in a changelog-backed table."""

    def __init__(self, table: Any, bootstrap: str, clock=time.time, stage: str = "",
                 on_read_back: Callable[[str, int, int, int], None] | None = None) -> None:
        self.table = table
        self.bootstrap = bootstrap
        self.clock = clock
        self.stage = stage
        # Called with (topic, partition, first, last) once every offset up to
        # `last` is processed, after messages were read back: `first` is where
        # the partition starts.
        self.on_read_back = on_read_back
        self._reader = None
        self._starts: dict = {}
        self._unknown_since: dict[tuple[str, int], float] = {}
        self._read_back: dict[tuple[str, int], tuple[int, int]] = {}

    def last(self, topic: str, partition: int) -> dict | None:
        return self.table.get(key_of(topic, partition))

    async def missed_before(self, raw: Raw) -> list[Raw]:
        """Messages of raw's partition after the last one processed and before `raw`."""
        return (await self.fill([raw]))[:-1]

    async def missed_at_tail(self, topic: str, partition: int, end: int | None, idle_seconds: float) -> list[Raw]:
        """Messages before `end` (the log end offset) not processed after `idle_seconds` of no progress."""
        if end is None:
            return []
        seen = self.last(topic, partition)
        if seen is None:
            # Nothing processed here yet: idle since this guard first looked.
            since = self._unknown_since.setdefault((topic, partition), self.clock())
            if self.clock() - since < idle_seconds:
                return []
            start = await self._start_of(topic, partition)
            return await self._read(topic, partition, start, end) if end > start else []
        if end <= seen["o"] + 1 or self.clock() - seen.get("t", 0.0) < idle_seconds:
            return []
        return await self._read(topic, partition, seen["o"] + 1, end)

    async def fill(self, raws: list[Raw]) -> list[Raw]:
        """`raws` (in stream order) with every message the stream skipped put back before them."""
        expected: dict[tuple[str, int], int] = {}
        out: list[Raw] = []
        for raw in raws:
            tp = (raw.topic, raw.partition)
            if tp not in expected:
                seen = self.last(raw.topic, raw.partition)
                # Nothing recorded means this stage never processed a message
                # of the partition: everything from its start is due.  Faust
                # can drop the head of a partition's first fetch around the
                # rebalance of a worker's start (seen: the first 609 messages
                # of one partition, committed and never processed).
                expected[tp] = await self._start_of(raw.topic, raw.partition) if seen is None else seen["o"] + 1
            if raw.offset > expected[tp]:
                out.extend(await self._read(raw.topic, raw.partition, expected[tp], raw.offset))
            out.append(raw)
            expected[tp] = max(expected[tp], raw.offset + 1)
        return out

    def done_all(self, raws: list[Raw]) -> None:
        """Record the last of `raws` in each partition as processed."""
        last: dict[tuple[str, int], Raw] = {}
        for raw in raws:
            tp = (raw.topic, raw.partition)
            if tp not in last or raw.offset > last[tp].offset:
                last[tp] = raw
        for raw in last.values():
            self.done(raw)

    def done(self, raw: Raw) -> None:
        """Record `raw` as processed."""
        seen = self.last(raw.topic, raw.partition)
        if seen is None or raw.offset > seen["o"]:
            self.table[key_of(raw.topic, raw.partition)] = {"o": raw.offset, "t": self.clock()}
        tp = (raw.topic, raw.partition)
        read_back = self._read_back.get(tp)
        if read_back is not None and raw.offset >= read_back[1]:
            del self._read_back[tp]
            if self.on_read_back is not None:
                self.on_read_back(raw.topic, raw.partition, *read_back)

    async def _start_of(self, topic: str, partition: int) -> int:
        """The first offset the partition still holds."""
        from aiokafka import TopicPartition

        tp = TopicPartition(topic, partition)
        if tp not in self._starts:
            reader = await self._consumer()
            self._starts[tp] = (await reader.beginning_offsets([tp]))[tp]
        return self._starts[tp]

    async def _read(self, topic: str, partition: int, start: int, end: int, timeout: float = 30.0) -> list[Raw]:
        from aiokafka import TopicPartition

        reader = await self._consumer()
        tp = TopicPartition(topic, partition)
        reader.assign([tp])
        reader.seek(tp, start)
        found: list[Raw] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await reader.getmany(tp, timeout_ms=500)
            records = batch.get(tp, [])
            for r in records:
                if r.offset >= end:
                    break
                found.append(Raw(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp / 1000.0))
            if (records and records[-1].offset >= end - 1) or await reader.position(tp) >= end:
                break
        if found:
            first = await self._start_of(topic, partition)
            last = max(found[-1].offset, self._read_back.get((topic, partition), (first, -1))[1])
            self._read_back[(topic, partition)] = (first, last)
            log.warning(
                "%s: %d message(s) of %s[%d] at offsets %d..%d never reached the stream; processing them now",
                self.stage or "stream", len(found), topic, partition, found[0].offset, found[-1].offset,
            )
        return found

    async def _consumer(self):
        if self._reader is None:
            from aiokafka import AIOKafkaConsumer

            self._reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap.split(","),
                group_id=None,
                enable_auto_commit=False,
                client_id=f"wirewatch-gaps-{self.stage or 'stream'}",
            )
            await self._reader.start()
        return self._reader

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None


def faust_gaps(app: Any) -> Callable[[str, int, int, int], None]:
    """An `on_read_back` for a Faust app: the offsets count as acknowledged in its consumer.

    Faust commits a partition up to the first offset missing from its
    acknowledged ones.  Marking the read-back offsets acknowledged (as
    `Consumer.ack` does for a message) lets its next commit step over them,
    also when nothing arrives after them.  Its own way to pass over offsets
    (`_add_gap`, for a compacted topic) is not enough: a gap becomes a commit
    only once a message after it is acknowledged, so a gap at the tail of a
    partition held the commit back for good (seen: 304 stories uncommitted
    after a worker was killed).
    """
    from faust.types import TP

    def fill(topic: str, partition: int, first: int, last: int) -> None:
        acknowledge(app.consumer, TP(topic, partition), first, last)

    return fill


def acknowledge(consumer: Any, tp: Any, first: int, last: int) -> int:
    """Count offsets `first`..`last` of `tp` as acknowledged in a Faust consumer; how many were not yet."""
    from faust.types.tuples import ack_lock
    from mode.utils.futures import notify

    # The same step and lock as `Consumer.ack`: only offsets from the last
    # commit on count, each once.
    with ack_lock:
        committed = consumer._committed_offset[tp]
        start = first if committed is None else max(first, committed)
        acked_index = consumer._acked_index[tp]
        fresh = [offset for offset in range(start, last + 1) if offset not in acked_index]
        if fresh:
            acked_index.update(fresh)
            consumer._acked[tp].extend(fresh)
            consumer._n_acked += len(fresh)
            notify(consumer._waiting_for_ack)
    return len(fresh)
