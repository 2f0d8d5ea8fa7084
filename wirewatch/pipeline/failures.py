"""One place per stage decides, for each message, what a failure means.

Faust acks a message whatever its agent did with it, so a message that is
not handled before the agent moves on is lost.  Three kinds of failure:

- **bad input or a permanent refusal** (a `WireWatchError` that is not
  retriable, or a Kafka error that is not): trying again cannot help, so
  the message is parked on the dead-letter topic with the reason;
- **a server down or overloaded** (retriable): wait and try again, for as
  long as it takes; nothing behind the message on its partition is lost
  meanwhile, it waits too;
- **anything else** is an exception from our own code or a library: it
  says nothing about the message, so it is logged with its traceback and
  the message is tried again (it may be a race at start-up).  A stage may
  set a horizon after which such a message is parked, traceback included,
  so that one story that trips a bug cannot hold up its partition for
  good; the alert stage sets none, since a parked alert is an alert its
  subscriber never gets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from wirewatch.errors import WireWatchError

from .deadletter import DeadLetters

Verdict = Literal["park", "wait", "bug"]


def _is_kafka_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("aiokafka", "kafka") and hasattr(exc, "retriable")


def _kafka_unreachable(exc: BaseException) -> bool:
    # aiokafka marks a timed-out send and a lost connection as not
    # retriable, but both only mean the broker is away for now.
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, RequestTimedOutError

    return isinstance(exc, (KafkaConnectionError, KafkaTimeoutError, RequestTimedOutError))


def verdict(exc: BaseException) -> Verdict:
    """What a failure while handling one message means (see the module's docstring)."""
    if isinstance(exc, WireWatchError):
        return "wait" if exc.retriable else "park"
    if _is_kafka_error(exc):
        return "wait" if getattr(exc, "retriable", False) or _kafka_unreachable(exc) else "park"
    return "bug"


class PerMessage:
    """Run a stage's handler on one message, and deal with what it raises."""

    def __init__(
        self,
        stage: str,
        dead: DeadLetters,
        log: logging.Logger,
        *,
        bug_horizon_s: float | None = None,
        initial_wait_s: float = 0.5,
        max_wait_s: float = 30.0,
        park_later: bool = False,
    ) -> None:
        self.stage = stage
        self.dead = dead
        self.log = log
        self.bug_horizon_s = bug_horizon_s
        self.initial_wait_s = initial_wait_s
        self.max_wait_s = max_wait_s
        self.retries = 0
        self.parked = 0
        # With park_later, dead letters are not awaited one by one (a flood of
        # bad input would go at one produce round trip per message) but all
        # at once in `settle`, which the stage calls before it counts its
        # batch as handled.
        self.park_later = park_later
        self._pending: list[tuple[BaseException, Any, Any]] = []

    async def run(
        self, handle: Callable[[Any], Awaitable[Any]], message: Any, *, parks: Callable[[], list[Any]] | None = None
    ) -> bool:
        """Handle `message`; True when handled, False when it was parked.  Never raises but CancelledError.

        `parks` gives the messages to park instead of `message` itself (a
        batch parks what of it is still unhandled).
        """

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if exc is None or verdict(exc) != "bug" or self.bug_horizon_s is None:
                return False
            return state.seconds_since_start >= self.bug_horizon_s

        def before_sleep(state: RetryCallState) -> None:
            self._log_failure(state.outcome.exception(), message, state.attempt_number + 1, state.upcoming_sleep)

        try:
            # Nearly every message goes through at the first try: no retry
            # machinery for those.
            await handle(message)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - decided below
            if verdict(exc) == "park":
                await self._park_all(exc, parks() if parks else [message])
                return False
            self._log_failure(exc, message, 1, None)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda e: verdict(e) != "park" and not isinstance(e, asyncio.CancelledError)),
                wait=wait_exponential_jitter(multiplier=self.initial_wait_s, max=self.max_wait_s),
                stop=stop,
                before_sleep=before_sleep,
                reraise=True,
            ):
                with attempt:
                    await handle(message)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # parked: bad input, a refusal, or a bug past its horizon
            await self._park_all(exc, parks() if parks else [message])
            return False

    async def _park_all(self, exc: BaseException, messages: list[Any]) -> None:
        for each in messages:
            await self.park(exc, each, later=self.park_later)

    def _log_failure(self, exc: BaseException, message: Any, attempt: int, wait: float | None) -> None:
        self.retries += 1
        where = _where(message)
        then = "trying again" if wait is None else f"trying again in {wait:.1f} s"
        if verdict(exc) == "bug":
            self.log.error("%s: %s failed (attempt %d), an error in WireWatch or a library, not in the message; %s",
                           self.stage, where, attempt, then, exc_info=exc)
        else:
            self.log.warning("%s: %s failed (attempt %d): %s; %s", self.stage, where, attempt, exc, then)

    async def park(self, exc: BaseException, message: Any, *, later: bool = False) -> None:
        """Put `message` on the dead-letter topic, waiting for Kafka as long as it takes.

        `later`: hand it to the producer and return; `settle` waits for it.
        """
        if later:
            try:
                self._pending.append((exc, message, await self.dead.park(self.stage, exc, message, wait=False)))
                self.parked += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the producer would not take it: park it the patient way
                pass
        async for attempt in AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=self.initial_wait_s, max=self.max_wait_s),
            before_sleep=lambda s: self.log.warning(
                "%s: could not park %s yet: %s", self.stage, _where(message), s.outcome.exception()),
            retry=retry_if_exception(lambda e: not isinstance(e, asyncio.CancelledError)),
            reraise=True,
        ):
            with attempt:
                await self.dead.park(self.stage, exc, message)
        self.parked += 1


    async def settle(self) -> None:
        """Wait until every message parked `later` is on the dead-letter topic (parking again any that failed)."""
        pending, self._pending = self._pending, []
        for exc, message, sent in pending:
            try:
                await sent
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - not acknowledged: park it again, waiting this time
                self.parked -= 1
                await self.park(exc, message)


def _where(message: Any) -> str:
    where = getattr(message, "where", None)
    if callable(where):
        return where()
    return f"{getattr(message, 'topic', '?')}[{getattr(message, 'partition', '?')}]@{getattr(message, 'offset', '?')}"
