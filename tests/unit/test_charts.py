from datetime import date

import pytest

from wirewatch.charts import BLOCKS, columns, fold, per_day_series, series, sparkline


def test_per_day_series_fills_the_days_without_counts():
    counts = {date(2024, 5, 1): 2, date(2024, 5, 4): 5, date(2024, 6, 1): 9}
    assert per_day_series(counts, date(2024, 5, 1), date(2024, 5, 5)) == [2, 0, 0, 5, 0]
    assert per_day_series(counts, date(2024, 5, 2), date(2024, 5, 2)) == [0]
    assert per_day_series({}, date(2024, 5, 2), date(2024, 5, 1)) == []


def test_series_over_given_days_skips_the_gaps_between_them():
    counts = {date(1987, 3, 2): 4, date(2026, 12, 4): 1}
    days = [date(1987, 3, 1), date(1987, 3, 2), date(2026, 12, 4)]
    assert series(counts, days) == [0, 4, 1]


def test_fold_sums_consecutive_days_into_at_most_width_columns():
    assert fold([1, 2, 3, 4, 5], 10) == ([1, 2, 3, 4, 5], 1)
    assert fold([1, 2, 3, 4, 5], 2) == ([6, 9], 3)
    cols, step = fold(list(range(236)), 60)
    assert step == 4 and len(cols) == 59 and sum(cols) == sum(range(236))
    with pytest.raises(ValueError):
        fold([1], 0)


def test_sparkline_scales_to_the_largest_and_never_hides_a_nonzero_day():
    assert sparkline([0, 8, 4, 1, 1000]) == " ▁▁▁█"
    assert sparkline([0, 1, 2, 4, 8]) == " ▁▂▄█"
    assert sparkline([]) == "" and sparkline([0, 0]) == "  "


def test_columns_stack_eighths_from_the_bottom():
    rows = columns([0, 1, 8, 16], height=2)
    assert rows == ["   █", " ▁██"]
    assert all(len(r) == 4 for r in rows)
    assert columns([3], height=3) == ["█", "█", "█"]
    assert set("".join(columns([5, 0, 2, 7], 4))) <= set(BLOCKS)
