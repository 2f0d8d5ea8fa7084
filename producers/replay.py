"""Pacing of a replay: as fast as possible, at the original pace sped up,
or at a steady number of stories a second.

Pure timing arithmetic; the caller sleeps.  Stories keep their file order:
a story stamped earlier than the one before it is sent at once rather than
reordered, because order within a story id must survive the replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime

from wirewatch.model import Story


class Pace:
    def __init__(self, speed: float | None, clock: Callable[[], float] = time.monotonic, rate: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        if speed is not None and rate is not None:
            raise ValueError("give a speed or a rate, not both")
        self.speed = speed
        self.rate = rate
        self._clock = clock
        self._origin: tuple[datetime, float] | None = None
        self._started: float | None = None
        self._count = 0

    def delay(self, story: Story) -> float:
        """Seconds to wait before sending `story` (0 when it is due or late)."""
        if self.rate is not None:
            return self._steady()
        if self.speed is None or story.published is None:
            return 0.0
        if self._origin is None:
            self._origin = (story.published, self._clock())
            return 0.0
        first_published, started = self._origin
        due = started + (story.published - first_published).total_seconds() / self.speed
        return max(0.0, due - self._clock())

    def _steady(self) -> float:
        # Due times count from the first story, so a late send is caught up, not carried over.
        now = self._clock()
        if self._started is None:
            self._started = now
        due = self._started + self._count / self.rate
        self._count += 1
        return max(0.0, due - now)


def replay(
    stories: Iterable[Story],
    send: Callable[[Story], None],
    pace: Pace,
    on_sent: Callable[[Story], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send each story when its pace says it is due."""
    for story in stories:
        wait = pace.delay(story)
        if wait:
            sleep(wait)
        send(story)
        if on_sent is not None:
            on_sent(story)
