"""Pure: counts per day as small text charts for a terminal (block characters, no styling).

`per_day_series` lays counts out day by day over a span (`series` over
given days); `fold` narrows a
long series to the width there is (each column the sum of as many days);
`sparkline` draws it one character high, `columns` several rows high.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

# Eighths of a cell, from empty to full.
BLOCKS = " ▁▂▃▄▅▆▇█"


def per_day_series(counts: Mapping[date, int], first: date, last: date) -> list[int]:
    """The count of each day from `first` to `last` (inclusive), 0 for days not in `counts`."""
    days = (last - first).days + 1
    return [counts.get(first + timedelta(days=i), 0) for i in range(max(0, days))]


def series(counts: Mapping[date, int], days: Sequence[date]) -> list[int]:
    """The count of each of `days` (say, the days an archive has stories), 0 for days not in `counts`."""
    return [counts.get(day, 0) for day in days]


def fold(values: Sequence[int], width: int) -> tuple[list[int], int]:
    """`values` in at most `width` columns, each the sum of `step` consecutive ones; (columns, step)."""
    if width < 1:
        raise ValueError("width must be at least 1")
    step = max(1, math.ceil(len(values) / width))
    return [sum(values[i : i + step]) for i in range(0, len(values), step)], step


def _eighths(value: int, top: int, cells: int) -> int:
    """How many eighths of `cells` cells `value` fills when `top` fills them all; anything above 0 shows."""
    if value <= 0 or top <= 0:
        return 0
    return max(1, round(value / top * cells * 8))


def sparkline(values: Sequence[int]) -> str:
    """One character per value, its height in eighths of the largest (a day with any count shows)."""
    top = max(values, default=0)
    return "".join(BLOCKS[_eighths(v, top, 1)] for v in values)


def columns(values: Sequence[int], height: int) -> list[str]:
    """A column chart `height` rows high, one character wide per value; rows top first."""
    if height < 1:
        raise ValueError("height must be at least 1")
    top = max(values, default=0)
    filled = [_eighths(v, top, height) for v in values]
    rows = []
    for row in range(height - 1, -1, -1):
        floor = row * 8
        rows.append("".join(BLOCKS[min(8, max(0, f - floor))] for f in filled))
    return rows
