from datetime import datetime, timedelta, timezone

import pytest

from producers.replay import Pace
from wirewatch.model import Story

T0 = datetime(1987, 2, 26, 15, 0, tzinfo=timezone.utc)


def story(minutes: float | None) -> Story:
    return Story(id="x", source="x", published=None if minutes is None else T0 + timedelta(minutes=minutes))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_as_fast_as_possible():
    pace = Pace(None)
    assert [pace.delay(story(m)) for m in (0, 60, 120)] == [0, 0, 0]


def test_original_pace_sped_up():
    clock = Clock()
    pace = Pace(60, clock)
    assert pace.delay(story(0)) == 0
    assert pace.delay(story(10)) == pytest.approx(10.0)  # ten minutes at 60x
    clock.now += 4
    assert pace.delay(story(10)) == pytest.approx(6.0)
    clock.now += 30
    assert pace.delay(story(20)) == 0  # late: send at once
    assert pace.delay(story(None)) == 0
    assert pace.delay(story(-5)) == 0  # out of order: never reordered, sent at once


def test_speed_must_be_positive():
    with pytest.raises(ValueError):
        Pace(0)


def test_replay_sleeps_only_when_a_story_is_not_yet_due():
    from producers.replay import replay

    clock = Clock()
    slept, sent = [], []

    def sleep(seconds):
        slept.append(seconds)
        clock.now += seconds

    replay([story(0), story(30), story(None), story(90)], sent.append, Pace(60, clock), sleep=sleep)
    assert [s.published for s in sent] == [story(m).published for m in (0, 30, None, 90)]
    assert slept == [pytest.approx(30.0), pytest.approx(60.0)]


def test_steady_rate_counts_from_the_first_story():
    clock = Clock()
    pace = Pace(None, clock, rate=10)
    assert pace.delay(story(0)) == 0
    assert pace.delay(story(None)) == pytest.approx(0.1)  # timestamps do not matter
    clock.now += 0.5  # a slow send: stories 2 to 5 were due by now, so they go at once
    assert [pace.delay(story(0)) for _ in range(4)] == [0, 0, 0, 0]
    assert pace.delay(story(0)) == pytest.approx(0.1)


def test_speed_and_rate_exclude_each_other():
    with pytest.raises(ValueError):
        Pace(60, rate=10)
