"""The retry policy shared by the stages: back off on retriable errors, never on others.

A stage that must not lose work (indexing, delivery) retries retriable
errors until they clear or a horizon passes; this module only says how
long to wait and when to give up, and logs each wait.
"""

from __future__ import annotations

import logging

from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, stop_never, wait_exponential_jitter

from wirewatch.errors import WireWatchError


def is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, WireWatchError) and exc.retriable


def _any_failure(exc: BaseException) -> bool:
    import asyncio

    return not isinstance(exc, asyncio.CancelledError)


def retrying(
    log: logging.Logger, what: str, horizon_s: float | None = None, max_wait_s: float = 30.0, any_failure: bool = False
) -> AsyncRetrying:
    """An AsyncRetrying that retries retriable WireWatch errors with jittered backoff.

    `horizon_s=None` retries forever: right for a stage that cannot move on
    without the server (indexing while Elasticsearch is down).  With
    `any_failure`, every exception is retried: for a step nothing may be lost
    past (a flush to Kafka).
    """

    def before_sleep(state) -> None:
        exc = state.outcome.exception()
        log.warning(
            "%s failed (attempt %d): %s; retrying in %.1f s",
            what,
            state.attempt_number,
            exc,
            state.next_action.sleep if state.next_action else 0,
        )

    return AsyncRetrying(
        retry=retry_if_exception(_any_failure if any_failure else is_retriable),
        wait=wait_exponential_jitter(multiplier=0.5, max=max_wait_s),
        stop=stop_never if horizon_s is None else stop_after_delay(horizon_s),
        before_sleep=before_sleep,
        reraise=True,
    )
