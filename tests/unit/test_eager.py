"""Faust's consumer hands a message on at once when its callback need not wait (wirewatch.pipeline.eager)."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from mode import Service
from mode.utils.locks import Event

from wirewatch.pipeline import eager
from wirewatch.pipeline.eager import EagerWaitFirst


class Plain(Service):
    pass


class Eager(EagerWaitFirst, Service):
    pass


def run(coro):
    # Coroutines closed unstarted must not warn "was never awaited".
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = asyncio.run(coro)
        gc.collect()
    return result


def test_a_callback_that_never_waits_is_done_within_the_call_and_in_no_task() -> None:
    async def main():
        service, flow = Eager(), Event()
        tasks_before = len(asyncio.all_tasks())
        seen = []

        async def callback(n):
            seen.append(len(asyncio.all_tasks()))
            return n * 2

        results = [await service.wait_first(callback(n), flow.wait()) for n in range(3)]
        return results, seen, tasks_before

    results, seen, tasks_before = run(main())
    assert [(r.results, r.stopped) for r in results] == [([0], False), ([2], False), ([4], False)]
    assert seen == [tasks_before] * 3  # run where it was called, not in a task of its own


@pytest.mark.parametrize("kind", [Plain, Eager])
def test_a_callback_that_waits_is_finished_and_gives_its_result(kind) -> None:
    async def main():
        async def callback():
            await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            return "done"

        return await kind().wait_first(callback(), Event().wait())

    result = run(main())
    assert result.results == ["done"] and not result.stopped


@pytest.mark.parametrize("kind", [Plain, Eager])
def test_the_flow_suspended_while_a_callback_waits_frees_the_caller_and_cancels_it(kind) -> None:
    async def main():
        service, flow = kind(), Event()
        cancelled = asyncio.Event()

        async def stuck():
            await asyncio.sleep(0)
            try:
                await asyncio.sleep(60)  # a full buffer that a rebalance must not leave waiting
            except asyncio.CancelledError:
                cancelled.set()
                raise

        asyncio.get_running_loop().call_later(0.01, flow.set)
        result = await asyncio.wait_for(service.wait_first(stuck(), flow.wait()), 5)
        await asyncio.wait_for(cancelled.wait(), 5)
        return result

    result = run(main())
    assert result.results == [True] and not result.stopped  # the flow's event won


@pytest.mark.parametrize("when", ["at once", "after a wait"])
@pytest.mark.parametrize("kind", [Plain, Eager])
def test_what_the_callback_raises_reaches_the_caller(kind, when) -> None:
    async def main():
        async def bad():
            if when == "after a wait":
                await asyncio.sleep(0)
            raise ValueError("a bad message")

        await kind().wait_first(bad(), Event().wait())

    with pytest.raises(ValueError, match="a bad message"):
        run(main())


@pytest.mark.parametrize("kind", [Plain, Eager])
def test_a_stopped_service_says_so_even_when_the_callback_finished(kind) -> None:
    async def main():
        service = kind()
        service._stopped.set()

        async def callback():
            return 1

        return await service.wait_first(callback(), Event().wait())

    assert run(main()).stopped


def test_a_cancelled_caller_cancels_the_callback_that_waits() -> None:
    async def main():
        service = Eager()
        state = []

        async def callback():
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                state.append("cancelled")
                raise

        task = asyncio.ensure_future(service.wait_first(callback(), Event().wait()))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):  # the cancel reaches the callback's task on a later turn of the loop
            if state:
                break
            await asyncio.sleep(0)
        return state

    assert run(main()) == ["cancelled"]


def test_the_workers_consumer_is_the_eager_one(tmp_path) -> None:
    from faust.transport.drivers import aiokafka as driver

    from wirewatch.pipeline.faust_app import create_app
    from wirewatch.settings import Settings

    transport = create_app(Settings(home=tmp_path)).transport
    assert isinstance(transport, driver.Transport)
    assert issubclass(transport.Consumer, EagerWaitFirst) and issubclass(transport.Consumer, driver.Consumer)
    assert transport.Consumer is eager.Consumer
