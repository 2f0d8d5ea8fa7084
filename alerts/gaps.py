"""Notice messages the stream never delivered, and read them from Kafka.

faust-streaming 0.15 can lose messages when a worker starts with a backlog:
the fetcher hands the agents a batch from the committed offset while table
recovery finishes, part of that batch is cleared from the agents' queues,
the rest moves the consumer's read offset on, and the copies fetched again
after the seek to the committed offset are dropped as already read.  Those
offsets are then acknowledged and committed although no agent saw them.

So each agent records, durably, the last offset it processed per partition.
An event further on than the next expected offset means a gap: the missing
range is read directly from Kafka and processed first.  Processing is
idempotent (a decision twice gives the same alert ids; an alert id is sent
once), so reading too much is harmless; reading too little is what this
prevents.  A gap at the end of a partition (nothing arrives after it) is
found by the periodic `tail` check.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("wirewatch.alerts")

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


class GapGuard:
    """Per-partition progress of one agent, in a changelog-backed table."""

    def __init__(self, table: Any, bootstrap: str, clock=time.time) -> None:
        self.table = table
        self.bootstrap = bootstrap
        self.clock = clock
        self._reader = None

    @staticmethod
    def _key(topic: str, partition: int) -> bytes:
        return f"{topic}{SEP}{partition}".encode()

    def last(self, topic: str, partition: int) -> dict | None:
        return self.table.get(self._key(topic, partition))

    async def missed_before(self, raw: Raw) -> list[Raw]:
        """Messages of raw's partition after the last one processed and before `raw`."""
        seen = self.last(raw.topic, raw.partition)
        if seen is None or raw.offset <= seen["o"] + 1:
            return []
        return await self._read(raw.topic, raw.partition, seen["o"] + 1, raw.offset)

    async def missed_at_tail(self, topic: str, partition: int, end: int | None, idle_seconds: float) -> list[Raw]:
        """Messages before `end` (the log end offset) not processed after `idle_seconds` of no progress."""
        seen = self.last(topic, partition)
        if seen is None or end is None or end <= seen["o"] + 1:
            return []
        if self.clock() - seen.get("t", 0.0) < idle_seconds:
            return []
        return await self._read(topic, partition, seen["o"] + 1, end)

    def done(self, raw: Raw) -> None:
        """Record `raw` as processed (call in the stream context of its partition)."""
        seen = self.last(raw.topic, raw.partition)
        if seen is None or raw.offset > seen["o"]:
            self.table[self._key(raw.topic, raw.partition)] = {"o": raw.offset, "t": self.clock()}

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
            log.warning("alerts: %d message(s) of %s[%d] at offsets %d..%d never reached the stream; processing them now",
                        len(found), topic, partition, found[0].offset, found[-1].offset)
        return found

    async def _consumer(self):
        if self._reader is None:
            from aiokafka import AIOKafkaConsumer

            self._reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap.split(","), group_id=None, enable_auto_commit=False,
                client_id="wirewatch-alerts-gaps",
            )
            await self._reader.start()
        return self._reader

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
