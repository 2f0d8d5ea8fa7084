"""Stories to Kafka from the event loop: kafka-python's producer, its acknowledgements as awaitables.

The producer is built in a thread and built again while Kafka cannot be
reached, so ingest starts and keeps running with Kafka down: sends then fail
at once with ServiceUnavailable (a push answers 503, a feed or a file is
tried again later) instead of piling up.
"""

from __future__ import annotations

import asyncio
import logging

from wirewatch.errors import ServiceUnavailable
from wirewatch.model import Story
from wirewatch.settings import Settings

log = logging.getLogger(__name__)


class Sender:
    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._sink = None
        self._problem = "still connecting"
        self._connecting: asyncio.Task | None = None

    @property
    def up(self) -> bool:
        return self._sink is not None

    @property
    def problem(self) -> str:
        return self._problem

    async def connect(self) -> bool:
        """Build the producer (and make sure the topic exists); False, with `problem` set, when Kafka cannot be reached."""
        if self._sink is not None:
            return True
        if self._connecting is None or self._connecting.done():
            self._connecting = _in_daemon_thread(self._build)
        try:
            await asyncio.shield(self._connecting)
        except Exception as exc:  # noqa: BLE001 - any failure to reach Kafka is the same story
            self._problem = str(exc)
            return False
        return self._sink is not None

    def _build(self) -> None:
        from producers.kafka_sink import StorySink
        from wirewatch import topics

        topics.ensure(self.settings, [self.topic, self.settings.deadletter_topic])
        sink = StorySink(self.settings, self.topic)
        self._sink = sink
        self._problem = ""
        log.info("connected to Kafka at %s, sending to %s", self.settings.kafka_bootstrap, self.topic)

    def connect_later(self) -> None:
        """Start a connection attempt if none is under way, without waiting for it (up to the bootstrap timeout)."""
        if self._sink is None and (self._connecting is None or self._connecting.done()):
            asyncio.ensure_future(self.connect())

    def unavailable(self) -> str:
        problem = self._problem
        if problem.startswith("Kafka at"):
            return problem
        return f"Kafka at {self.settings.kafka_bootstrap} is not reachable ({problem})"

    async def send(self, story: Story):
        """Send one story; returns its RecordMetadata once Kafka acknowledged it, raises ServiceUnavailable otherwise."""
        if self._sink is None:
            self.connect_later()
            raise ServiceUnavailable(self.unavailable())
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def ok(metadata) -> None:
            loop.call_soon_threadsafe(_settle, done, metadata, None)

        def failed(error) -> None:
            loop.call_soon_threadsafe(_settle, done, None, error)

        try:
            future = self._sink.send(story)
        except Exception as exc:  # noqa: BLE001 - a full buffer or a closed producer
            raise ServiceUnavailable(f"Kafka refused story {story.id}: {exc}") from exc
        future.add_callback(ok)
        future.add_errback(failed)
        try:
            return await done
        except Exception as exc:  # noqa: BLE001
            raise ServiceUnavailable(f"Kafka did not acknowledge story {story.id}: {exc}") from exc

    async def park(self, letter) -> None:
        """Send a DeadLetter to the dead-letter topic; returns once Kafka acknowledged it."""
        if self._sink is None:
            self.connect_later()
            raise ServiceUnavailable(self.unavailable())
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()
        future = self._sink.send_to(self.settings.deadletter_topic, (letter.key or "").encode() or None, letter.to_json())
        future.add_callback(lambda md: loop.call_soon_threadsafe(_settle, done, md, None))
        future.add_errback(lambda e: loop.call_soon_threadsafe(_settle, done, None, e))
        try:
            return await done
        except Exception as exc:  # noqa: BLE001
            raise ServiceUnavailable(f"Kafka did not acknowledge a dead letter: {exc}") from exc

    def close(self, timeout_s: float = 30.0) -> None:
        if self._sink is not None:
            try:
                self._sink.close(timeout_s)
            finally:
                self._sink = None
                self._problem = "closed (ingest stopped)"


def _in_daemon_thread(work) -> asyncio.Future:
    """`work()` in a thread of its own whose result the loop awaits.

    Not the loop's executor: a connection attempt to a Kafka that is away
    takes up to the bootstrap timeout, and Ctrl-C must not wait for it.
    """
    import threading

    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, exc
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, future, result, error)

    threading.Thread(target=run, name="kafka-connect", daemon=True).start()
    return future


def _settle(future: asyncio.Future, result, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error if isinstance(error, BaseException) else RuntimeError(str(error)))
    else:
        future.set_result(result)
