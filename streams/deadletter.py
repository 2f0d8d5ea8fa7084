"""Park what a stage cannot process on the dead-letter topic, with the reason.

The log line and the parked record both say which topic, partition and
offset the message came from, so it can be found, fixed and replayed.
"""

from __future__ import annotations

import logging
from typing import Any

from wirewatch.model import DeadLetter

log = logging.getLogger("wirewatch.deadletter")


class DeadLetters:
    def __init__(self, topic: Any) -> None:
        self.topic = topic
        self.count = 0

    async def park(self, stage: str, error: BaseException, message: Any = None, payload: bytes | None = None) -> None:
        """Send one DeadLetter for `message` (a Faust or aiokafka message) or a bare payload."""
        if message is not None:
            raw = message.value if isinstance(message.value, (bytes, type(None))) else str(message.value).encode()
            record = DeadLetter.for_message(
                stage=stage,
                error=error,
                payload=raw if payload is None else payload,
                key=message.key,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
            )
        else:
            record = DeadLetter.for_message(stage=stage, error=error, payload=payload)
        await self.send(record)

    async def send(self, record: DeadLetter) -> None:
        """Park a DeadLetter made elsewhere; it is on Kafka when this returns."""
        self.count += 1
        origin = f"{record.topic}[{record.partition}]@{record.offset}" if record.topic else "a message"
        log.error("%s: parked %s on %s: %s", record.stage, origin, self.topic.get_topic_name(), record.reason)
        key = record.key.encode() if record.key else None
        # force: sent now and awaited, not held for the next commit, so a
        # parked message is safe even if the worker dies right after.
        await (await self.topic.send(key=key, value=record.to_json(), force=True))
