"""Send stories to Kafka with kafka-python: key = story id, value = JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable

from wirewatch import kafka_clients
from wirewatch.model import Story
from wirewatch.settings import Settings

log = logging.getLogger(__name__)


class StorySink:
    """A Kafka producer of stories.

    Idempotent and `acks=all`: a retried send never writes a story twice and
    an acknowledged one is on every in-sync replica.  Failures arrive
    asynchronously through `on_failure(story, error)`.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str | None = None,
        on_failure: Callable[[Story, Exception], None] | None = None,
    ) -> None:
        self.topic = topic or settings.stories_topic
        self.sent = 0
        self.failed = 0
        self._on_failure = on_failure
        self._producer = kafka_clients.producer(
            settings,
            "wirewatch-producer",
            linger_ms=20,
            batch_size=256 * 1024,
            max_request_size=8 * 1024 * 1024,
            delivery_timeout_ms=int(settings.delivery_timeout_seconds * 1000),
            # Under the delivery timeout, so a request to a dead broker is retried within it.
            request_timeout_ms=min(30_000, max(500, int(settings.delivery_timeout_seconds * 500))),
        )

    def send(self, story: Story):
        """Queue one story; the returned future settles when Kafka acknowledged it or gave up."""
        future = self._producer.send(self.topic, key=story.id.encode(), value=story.to_json())
        future.add_callback(self._ok)
        future.add_errback(self._failed, story)
        return future

    def send_raw(self, key: bytes | None, value: bytes, wait: bool = True) -> None:
        """Send bytes as they are (used to test how workers treat bad input); `wait=False`: `flush` waits."""
        sent = self._producer.send(self.topic, key=key, value=value)
        if wait:
            sent.get(timeout=30)

    def send_to(self, topic: str, key: bytes | None, value: bytes):
        """Send bytes to another topic (a dead letter, say) with this producer; the future of its acknowledgement."""
        return self._producer.send(topic, key=key, value=value)

    def flush(self, timeout_s: float | None = None) -> None:
        from kafka.errors import UnknownError

        # kafka-python 3.0 splits a batch the broker found too large and sends
        # the halves again; a flush waiting on the original batch then raises
        # "Future not done" while the halves are still on their way.
        for _ in range(64):
            try:
                self._producer.flush(timeout=timeout_s)
                return
            except UnknownError as exc:
                if "Future not done" not in str(exc):
                    raise
        self._producer.flush(timeout=timeout_s)

    def close(self, timeout_s: float | None = None) -> None:
        self.flush(timeout_s)
        self._producer.close(timeout=timeout_s)

    def __enter__(self) -> "StorySink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _ok(self, _metadata) -> None:
        self.sent += 1

    def _failed(self, story: Story, error: Exception) -> None:
        self.failed += 1
        log.error("story %s not sent to %s: %s", story.id, self.topic, error)
        if self._on_failure:
            self._on_failure(story, error)
