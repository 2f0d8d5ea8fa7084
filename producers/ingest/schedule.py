"""When to poll a feed next.  Pure arithmetic; the caller sleeps.

A healthy feed is polled every `interval`, spread by up to a tenth either
way so feeds started together do not stay in step.  A failing one is tried
again after a wait that doubles with each failure in a row (from the
interval, or 30 s if that is shorter) up to `max_backoff`, with "equal
jitter" (half fixed, half random), and never before a server's Retry-After.
"""

from __future__ import annotations

import random
from collections.abc import Callable

FIRST_RETRY_S = 30.0


def next_delay(
    interval: float,
    failures: int,
    max_backoff: float,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    if failures <= 0:
        return interval * (0.9 + 0.2 * rand())
    wait = min(max_backoff, min(interval, FIRST_RETRY_S) * 2 ** (failures - 1))
    wait = wait / 2 + rand() * wait / 2
    if retry_after is not None and retry_after > wait:
        wait = min(retry_after, max(max_backoff, wait))
    return wait


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
