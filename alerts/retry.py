"""Retry a delivery with exponential backoff and jitter until a deadline.

The deadline is absolute (wall clock), set when the alert first reached the
delivery stage and kept in its durable outbox, so a restart does not give a
failing alert a fresh retry horizon.  A `Retry-After` from the server is
honoured; no wait runs past the deadline, so the last attempt happens at it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from wirewatch.settings import Settings


def _retriable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False))


def make_wait(settings: Settings, deadline: float, clock: Callable[[], float] = time.time) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(
        multiplier=settings.alerts_retry_initial_seconds,
        max=settings.alerts_retry_max_seconds,
        jitter=settings.alerts_retry_initial_seconds,
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        seconds = retry_after if retry_after is not None else backoff(state)
        return max(0.0, min(seconds, deadline - clock()))

    return wait


async def retrying(
    attempt: Callable[[], Awaitable[None]],
    *,
    deadline: float,
    settings: Settings,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run `attempt` until it succeeds; return the number of attempts made.

    Raises the last error when it is not retriable or the deadline has passed.
    """

    def before_sleep(state: RetryCallState) -> None:
        if on_retry and state.outcome is not None:
            on_retry(state.attempt_number, state.outcome.exception(), state.upcoming_sleep)

    attempts = 0
    async for try_ in AsyncRetrying(
        retry=retry_if_exception(_retriable),
        wait=make_wait(settings, deadline, clock),
        stop=lambda state: clock() >= deadline,
        before_sleep=before_sleep,
        reraise=True,
    ):
        with try_:
            attempts = try_.retry_state.attempt_number
            await attempt()
    return attempts
