"""The alert stage's share of a worker while matching or indexing is behind (wirewatch.pipeline.pacing)."""

from __future__ import annotations

import asyncio

import pytest

from wirewatch.pipeline.pacing import GiveWay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        await asyncio.sleep(0)


def give_way(clock: Clock, behind, share: float = 0.1) -> GiveWay:
    return GiveWay(behind, share, clock=clock, sleep=clock.sleep)


def test_nothing_behind_means_no_wait_however_much_was_spent() -> None:
    clock = Clock()
    gate = give_way(clock, lambda: False)
    gate.spent(30.0)
    asyncio.run(gate.turn())
    assert clock.now == 1000.0 and gate.waited == 0.0


def test_behind_the_stage_waits_until_its_share_of_the_time_has_passed() -> None:
    clock = Clock()
    gate = give_way(clock, lambda: True, share=0.1)
    gate.spent(1.0)  # the bucket held 0.25 s: 0.75 s over, at 0.1 s a second
    asyncio.run(gate.turn())
    assert clock.now - 1000.0 == pytest.approx(7.5, abs=0.06)
    assert gate.waited == pytest.approx(7.5, abs=0.06)


def test_the_wait_ends_as_soon_as_the_backlog_is_gone() -> None:
    clock = Clock()
    gate = give_way(clock, lambda: clock.now < 1002.0, share=0.1)
    gate.spent(5.0)
    asyncio.run(gate.turn())
    assert 1002.0 <= clock.now < 1002.2
    gate.spent(0.2)
    asyncio.run(gate.turn())  # the bucket was filled again when the backlog went
    assert clock.now < 1002.2


def test_over_a_long_backlog_the_work_keeps_to_its_share() -> None:
    clock = Clock()
    gate = give_way(clock, lambda: True, share=0.2)
    worked = 0.0

    async def run() -> None:
        nonlocal worked
        while clock.now < 1600.0:
            await gate.turn()
            clock.now += 0.05  # a batch of work
            worked += 0.05
            gate.spent(0.05)

    asyncio.run(run())
    assert worked / 600.0 == pytest.approx(0.2, rel=0.02)


@pytest.mark.parametrize("behind, share", [(None, 0.1), (lambda: True, 1.0)])
def test_off_when_nobody_says_what_is_behind_or_the_share_is_all(behind, share) -> None:
    clock = Clock()
    gate = give_way(clock, behind, share)
    gate.spent(100.0)
    asyncio.run(gate.turn())
    assert clock.now == 1000.0 and not gate.active


def test_many_waiting_deliveries_poll_as_one() -> None:
    clock = Clock()
    gate = give_way(clock, lambda: True, share=0.1)
    gate.spent(0.25 + 1.0)  # 10 s to wait
    done: list[float] = []

    async def delivery() -> None:
        await gate.turn()
        done.append(clock.now)
        gate.spent(0.01)

    async def run() -> None:
        await asyncio.gather(*(delivery() for _ in range(200)))

    asyncio.run(run())
    assert len(done) == 200
    # One waiter at a time polls (every 0.05 s of the wait, and once when its turn comes);
    # 200 each polling would sleep 200 times as often.
    assert clock.sleeps <= (clock.now - 1000.0) / 0.05 + 200 + 10
    assert done == sorted(done) and done[0] - 1000.0 == pytest.approx(10.0, abs=0.06)


def test_behind_is_asked_at_most_once_per_recheck() -> None:
    clock = Clock()
    calls = []
    gate = GiveWay(lambda: calls.append(clock.now) or True, 0.5, clock=clock, sleep=clock.sleep, recheck=0.05)
    for _ in range(10):
        gate.is_behind()
    clock.now += 0.06
    gate.is_behind()
    assert len(calls) == 2


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="share"):
        GiveWay(lambda: True, 0.0)


def test_the_stage_is_told_when_a_backlog_begins_and_ends() -> None:
    clock = Clock()
    told: list[bool] = []
    state = {"behind": False}
    gate = GiveWay(lambda: state["behind"], 0.5, clock=clock, sleep=clock.sleep, on_change=told.append)
    for behind in (False, True, True, False, False, True):
        state["behind"] = behind
        clock.now += 1.0
        gate.is_behind()
    assert told == [True, False, True]


def test_the_alert_stage_never_gives_way_during_a_rebalance() -> None:
    # Faust hands partitions over only once the alert stage has acknowledged
    # what it took: giving way then would hold the rebalance up.
    from types import SimpleNamespace

    from alerts.stage import unless_rebalancing

    app = SimpleNamespace(rebalancing=False)
    behind = unless_rebalancing(app, lambda: True)
    assert behind()
    app.rebalancing = True
    assert not behind()
    app.rebalancing = False
    assert behind()
    assert unless_rebalancing(app, None) is None  # no backlog signal: the stage never gives way
