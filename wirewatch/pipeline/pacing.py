"""A stage that gives way: at most a share of the time while the stages before it are behind.

The alert stage shares a worker with matching and indexing.  While a
backlog of stories waits (a restart after an outage, an archive replayed),
every second it spends deciding and sending is a second the backlog waits
to become searchable; once the backlog is gone it has the worker to itself
and catches up.  A token bucket keeps the share: while `behind()` says so,
work is allowed as long as the time spent on it stays within `share` of the
time that passed, in bursts of at most `burst` seconds.  Work already
running is never interrupted, and with nothing behind there is no wait at
all, so alerting in step with a live wire is unchanged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class GiveWay:
    """Waits a stage's next piece of work while others are behind and its share is used up."""

    def __init__(self, behind: Callable[[], bool] | None, share: float, clock: Callable[[], float] = time.monotonic,
                 burst: float = 0.25, poll: float = 0.05, recheck: float = 0.05,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_change: Callable[[bool], None] | None = None) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self.behind = behind
        self.share = share
        self.clock = clock
        self.burst = burst
        self.poll = poll
        self.recheck = recheck
        self.sleep = sleep
        self.on_change = on_change  # told when a backlog begins (True) and ends (False)
        self.tokens = burst
        self.waited = 0.0  # seconds spent giving way, for the logs and metrics
        self._at = clock()
        self._checked_at = float("-inf")
        self._was_behind = False
        self._queue = asyncio.Lock()  # one waiter polls; the others wait their turn behind it

    @property
    def active(self) -> bool:
        return self.behind is not None and self.share < 1

    def is_behind(self) -> bool:
        """`behind()`, asked at most once every `recheck` seconds (it walks the assigned partitions)."""
        if not self.active:
            return False
        now = self.clock()
        if now - self._checked_at >= self.recheck:
            self._checked_at = now
            was, self._was_behind = self._was_behind, bool(self.behind())
            if was != self._was_behind and self.on_change is not None:
                self.on_change(self._was_behind)
        return self._was_behind

    def allowed(self) -> bool:
        """Whether work may start now (refilling the bucket for the time passed)."""
        now = self.clock()
        elapsed, self._at = now - self._at, now
        if not self.is_behind():
            self.tokens = self.burst
            return True
        self.tokens = min(self.burst, self.tokens + elapsed * self.share)
        return self.tokens > 0

    def spent(self, seconds: float) -> None:
        """Count work done (only a backlog makes it count against the share)."""
        self.tokens -= seconds

    async def turn(self) -> None:
        """Return when work may start."""
        if not self.active or (not self._queue.locked() and self.allowed()):
            return
        async with self._queue:
            started = self.clock()
            while not self.allowed():
                await self.sleep(min(self.poll, max(-self.tokens / self.share, 0.001)))
            self.waited += self.clock() - started
