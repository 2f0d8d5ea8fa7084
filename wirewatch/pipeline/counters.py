"""What a stage did, logged now and then as one line of counts, not a line per message."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable


class Counters:
    """Counts since start, logged at most every `every` seconds when they changed."""

    def __init__(self, stage: str, log: logging.Logger, clock: Callable[[], float] = time.monotonic, every: float = 60.0) -> None:
        self.stage = stage
        self.log = log
        self.clock = clock
        self.every = every
        self.totals: Counter[str] = Counter()
        self._last: Counter[str] = Counter()
        self._reported = clock()

    def add(self, **counts: int) -> None:
        self.totals.update(counts)

    def report(self, force: bool = False) -> None:
        now = self.clock()
        if not force and (now - self._reported < self.every or self.totals == self._last):
            return
        elapsed = max(now - self._reported, 1e-9)
        delta = self.totals - self._last
        self.log.info(
            "%s: %s (in the last %.0f s: %s)",
            self.stage,
            " ".join(f"{k}={v}" for k, v in sorted(self.totals.items())),
            elapsed,
            " ".join(f"{k}={v / elapsed:.1f}/s" for k, v in sorted(delta.items())) or "nothing",
        )
        self._reported, self._last = now, Counter(self.totals)
