"""Pacing of a replay: as fast as possible, or at the original pace sped up.

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
    def __init__(self, speed: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._clock = clock
        self._origin: tuple[datetime, float] | None = None

    def delay(self, story: Story) -> float:
        """Seconds to wait before sending `story` (0 when it is due or late)."""
        if self.speed is None or story.published is None:
            return 0.0
        if self._origin is None:
            self._origin = (story.published, self._clock())
            return 0.0
        first_published, started = self._origin
        due = started + (story.published - first_published).total_seconds() / self.speed
        return max(0.0, due - self._clock())


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
