"""Park what a stage cannot process on the dead-letter topic, with the reason.

The log line and the parked record both say which stage gave up and which
topic, partition and offset the message came from, so it can be found,
fixed and replayed.  When the reason is an exception from WireWatch's own
code or a library (not a `WireWatchError` that names bad input or a
refusal), its traceback goes into both, since the message alone hides
where it came from.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from typing import Any

from wirewatch.errors import WireWatchError
from wirewatch.model import DeadLetter

log = logging.getLogger("wirewatch.deadletter")


def trace_of(error: BaseException) -> str | None:
    """The traceback worth keeping: only for errors that are not WireWatch's own verdicts."""
    if isinstance(error, WireWatchError) or error.__traceback__ is None:
        return None
    return "".join(traceback.format_exception(error)).rstrip()


class DeadLetters:
    def __init__(self, topic: Any) -> None:
        self.topic = topic
        self.count = 0
        self.by_stage: Counter[str] = Counter()

    async def park(
        self, stage: str, error: BaseException, message: Any = None, payload: bytes | None = None, *, wait: bool = True
    ) -> Any:
        """Send one DeadLetter for `message` (anything with topic, partition, offset, key, value) or a bare payload.

        With `wait=False` the record is handed to the producer and the future
        of its acknowledgement returned, for the caller to await before it
        counts the message as handled.
        """
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
        trace = trace_of(error)
        if trace:
            record = record.model_copy(update={"traceback": trace})
        return await self.send(record, wait=wait)

    async def send(self, record: DeadLetter, *, wait: bool = True) -> Any:
        """Park a DeadLetter made elsewhere; it is on Kafka when this returns (with `wait=False`: the future of that)."""
        self.count += 1
        self.by_stage[record.stage] += 1
        origin = f"{record.topic}[{record.partition}]@{record.offset}" if record.topic else "a message"
        where = self.topic.get_topic_name()
        if record.traceback:
            log.error("%s: parked %s on %s: %s\n%s", record.stage, origin, where, record.reason, record.traceback)
        else:
            log.error("%s: parked %s on %s: %s", record.stage, origin, where, record.reason)
        key = record.key.encode() if record.key else None
        # force: sent now, not held for the next commit, so a parked message
        # is safe even if the worker dies right after it is acknowledged.
        sent = await self.topic.send(key=key, value=record.to_json(), force=True)
        if wait:
            return await sent
        return sent
