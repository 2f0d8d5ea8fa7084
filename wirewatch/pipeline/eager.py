"""Faust's consumer, handing each message on without two trips round the event loop.

For every message it reads, Faust's consumer loop awaits
`self.wait_first(callback(message), self.suspend_flow.wait())`: mode's
`wait_first` wraps both, and the service's stopped and crashed events, in
four tasks, waits for the first to finish and cancels the rest.  That is
about 45 µs and two or more loop iterations a message, although nearly
every callback (decode, put on the stream's buffer) finishes without ever
waiting.  Draining a backlog, it was the largest single cost per story
after matching itself, and it kept the index stage's first batches
waiting behind the stories being handed to the match stage.

`EagerWaitFirst.wait_first` runs the first coroutine at once, up to its
first real wait.  When it finishes there, the others (not yet started) are
closed and the answer is the one `wait_first` gives.  When it has to wait
(a full buffer, a lock), what is left of it goes to mode's `wait_first`
with the others, exactly as before, so a rebalance's `suspend_flow` still
frees the loop.

Imported only where the worker builds its Faust app (`create_app`): it imports Faust.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver
from mode.services import WaitResults


class _Rest:
    """What is left of a coroutine already run up to its first suspension, as an awaitable."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        # The task that awaits this sees what the coroutine yields (the
        # future it waits on), and sends or throws into it, as if it had
        # run the coroutine from the start.
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown in by the task (a cancel): the coroutine's to handle
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def _close_unstarted(coros: tuple[Any, ...]) -> None:
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


class EagerWaitFirst:
    """A mixin for a mode Service (Faust's consumer): `wait_first` starts its first coroutine at once."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        first = coros[0] if coros else None
        if not asyncio.iscoroutine(first):
            return await super().wait_first(*coros, timeout=timeout)  # type: ignore[misc]
        try:
            yielded = first.send(None)
        except StopIteration as done:
            _close_unstarted(coros[1:])
            if self._stopped.is_set() or self._crashed.is_set():  # type: ignore[attr-defined]
                return WaitResults([], [], True)
            return WaitResults([first], [done.value], False)
        except BaseException:
            # As mode's wait_first does: the first coroutine's exception is the caller's.
            _close_unstarted(coros[1:])
            raise
        return await super().wait_first(_Rest(first, yielded), *coros[1:], timeout=timeout)  # type: ignore[misc]


class Consumer(EagerWaitFirst, driver.Consumer):
    """Faust's aiokafka consumer, with the `wait_first` above."""


class Transport(driver.Transport):
    """Faust's aiokafka transport, with the consumer above."""

    Consumer = Consumer


class App(faust.App):
    """Faust's app, with the transport above."""

    def _new_transport(self) -> Transport:
        return Transport(self.conf.broker_consumer, self)
