from datetime import datetime, timedelta, timezone

import pytest

from wirewatch.timeparse import parse_since

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text,back",
    [("10m", timedelta(minutes=10)), ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)), ("90s", timedelta(seconds=90)), ("1.5h", timedelta(minutes=90))],
)
def test_durations(text, back):
    assert parse_since(text, NOW) == NOW - back


def test_times():
    assert parse_since("2026-11-29T08:00", NOW) == datetime(2026, 11, 29, 8, tzinfo=timezone.utc)
    assert parse_since("2026-11-29T08:00+01:00", NOW) == datetime(2026, 11, 29, 7, tzinfo=timezone.utc)
    assert parse_since("2026-11-29T08:00Z", NOW) == datetime(2026, 11, 29, 8, tzinfo=timezone.utc)


def test_nonsense_explains_the_forms():
    with pytest.raises(ValueError, match="duration such as 10m"):
        parse_since("yesterday", NOW)
