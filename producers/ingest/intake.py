"""One batch of stories read from a source: decide what is new, send it, remember it once acknowledged."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field

from wirewatch.errors import ServiceUnavailable
from wirewatch.model import Story

from .identity import Decision, Seen, decide
from .state import State

log = logging.getLogger("wirewatch.ingest")


@dataclass
class Counters:
    """What one source did since ingest started, shown by `wirewatch ingest --status`."""

    kind: str
    fetched: int = 0  # feed responses, files read, POSTs taken
    not_modified: int = 0
    items: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    failed: int = 0
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    next_poll: float | None = None
    failures_in_a_row: int = 0

    def success(self) -> None:
        self.last_success = time.time()
        self.failures_in_a_row = 0

    def failure(self, message: str) -> None:
        self.failed += 1
        self.failures_in_a_row += 1
        self.last_error = message
        self.last_error_at = time.time()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Tally:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    sent: list[tuple[Story, str]] = field(default_factory=list)  # (story, "topic[partition]@offset")

    @property
    def ids(self) -> list[str]:
        return [s.id for s, _ in self.sent]


class Intake:
    def __init__(self, state: State, sender) -> None:
        self.state = state
        self.sender = sender
        # Sent and not yet acknowledged: a second copy arriving meanwhile is not sent twice.
        self._in_flight: dict[tuple[str, str], Seen] = {}

    async def park(self, source: str, error: Exception, payload: bytes, counters: Counters) -> bool:
        """Park an item that cannot be a story on the dead-letter topic, once; True when it was new.

        A feed lists a bad item on every poll until it drops off: it is
        reported and parked the first time only, across restarts too.
        """
        import hashlib

        from wirewatch.model import DeadLetter

        key = hashlib.sha256(payload).hexdigest()
        if self.state.parked(source, key):
            return False
        counters.failure(str(error))
        log.warning("%s: item skipped and parked on the dead-letter topic: %s", source, error)
        letter = DeadLetter.for_message(stage=f"ingest:{source}", error=error, payload=payload, key=source)
        await self.sender.park(letter)
        self.state.record_parked(source, key)
        return True

    async def ready(self, stop: asyncio.Event) -> bool:
        """Whether Kafka can be sent to, waiting for a connection attempt under way (not past `stop`)."""
        if self.sender.up:
            return True
        connect = asyncio.ensure_future(self.sender.connect())
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({connect, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if connect in done:
            return connect.result()
        connect.cancel()  # the attempt itself goes on in its thread
        return False

    async def take(
        self,
        source: str,
        stories: list[Story],
        counters: Counters,
        *,
        provider_versions: bool,
        http: tuple[str, str | None, str | None] | None = None,
    ) -> Tally:
        """Send what is new in `stories`; raises ServiceUnavailable when Kafka did not acknowledge all of it.

        What was acknowledged is remembered even then, so trying the batch
        again sends only the rest.  `http` (url, etag, last-modified) is
        remembered only when the whole batch is safe, so a feed whose stories
        did not all reach Kafka is fetched in full next time, not answered 304.
        """
        tally = Tally()
        batch: dict[str, Seen] = {}
        decisions: list[Decision] = []
        for story in stories:
            key = (source, story.id)
            prev = batch.get(story.id) or self._in_flight.get(key) or self.state.seen(source, story.id)
            d = decide(story, prev, provider_versions=provider_versions)
            decisions.append(d)
            if d.send:
                batch[story.id] = d.seen
            setattr(tally, d.action, getattr(tally, d.action) + 1)
        counters.items += len(stories)
        to_send = [d for d in decisions if d.send]
        if to_send and not self.sender.up:
            self.sender.connect_later()
            raise ServiceUnavailable(self.sender.unavailable())
        for d in to_send:
            self._in_flight[(source, d.story.id)] = d.seen
        try:
            results = await asyncio.gather(*(self.sender.send(d.story) for d in to_send), return_exceptions=True)
        finally:
            for d in to_send:
                self._in_flight.pop((source, d.story.id), None)
        acked: list[tuple[str, Seen]] = []
        problems: list[str] = []
        for d, result in zip(to_send, results):
            if isinstance(result, BaseException):
                problems.append(f"{d.story.id}: {result}")
                continue
            where = f"{result.topic}[{result.partition}]@{result.offset}"
            acked.append((d.story.id, d.seen))
            tally.sent.append((d.story, where))
            log.info("%s: %s story %s v%d -> %s", source, d.action, d.story.id, d.story.version, where)
            if d.action == "new":
                counters.new += 1
            else:
                counters.updated += 1
        unchanged = [d.story.id for d in decisions if not d.send]
        counters.unchanged += tally.unchanged
        counters.stale += tally.stale
        complete = not problems
        if acked or (http is not None and complete):
            self.state.record(source, acked, http if complete else None)
        if unchanged:
            self.state.touch(source, unchanged)
        if problems:
            sent_new = sum(1 for d, r in zip(to_send, results) if not isinstance(r, BaseException))
            raise ServiceUnavailable(
                f"{len(problems)} of {len(to_send)} stories not acknowledged by Kafka ({sent_new} were); "
                f"first: {problems[0]}"
            )
        return tally
