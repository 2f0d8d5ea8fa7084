"""Subscribers of each kind and a clock in whole minutes of one week, for the alert policy's tests."""

from datetime import datetime, timezone

from alerts.subscriptions import QuietHours, Subscription

MIN = 60.0

instant = Subscription(channel="email", target="a@example.com")
digest = Subscription(channel="email", target="b@example.com", mode="digest", every=15)
night = QuietHours(start="22:00", end="07:00", tz="UTC")
sleeper = Subscription(channel="email", target="c@example.com", quiet_hours=night, min_urgency=2)
sleepy_digest = Subscription(channel="email", target="d@example.com", mode="digest", every=15, quiet_hours=night)


def at(hour: int, minute: int = 0, day: int = 6) -> float:
    """A time in the week of Monday 2024-05-06 (UTC)."""
    return datetime(2024, 5, day, hour, minute, tzinfo=timezone.utc).timestamp()
