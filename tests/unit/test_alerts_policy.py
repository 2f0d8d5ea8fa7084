"""Routing, flood control and digests, driven by a fake clock."""

from datetime import datetime, timezone

from alerts import policy
from alerts.policy import Mailbox
from alerts.subscriptions import QuietHours, Realert, Subscription

from subscribers import MIN, at, digest, instant, sleeper, sleepy_digest

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc).timestamp()  # a Monday, noon UTC


def test_route_by_mode_and_quiet_hours():
    assert policy.route(instant, None, T0) == "instant"
    assert policy.route(digest, None, T0) == "digest"
    assert policy.route(sleeper, None, at(12)) == "instant"
    assert policy.route(sleeper, None, at(23)) == "digest"
    assert policy.route(sleeper, 5, at(3)) == "digest"
    # Urgency 1 and 2 (IPTC: 1 is most urgent) break through for min_urgency 2.
    assert policy.route(sleeper, 2, at(23)) == "instant"
    assert policy.route(sleeper, 1, at(23)) == "instant"
    # A digest subscriber also hears an urgent story at once in quiet hours.
    urgent_digest = sleepy_digest.model_copy(update={"min_urgency": 1})
    assert policy.route(urgent_digest, 1, at(23)) == "instant"
    assert policy.route(urgent_digest, 1, at(12)) == "digest"


def test_flood_window_lets_max_through_then_holds_until_the_window_closes():
    realert = Realert(max=3, minutes=10)
    box = Mailbox()
    verdicts = [policy.admit(box, realert, T0 + i) for i in range(10)]
    assert verdicts == [True] * 3 + [False] * 7
    listed = [policy.hold(box, f"s{i}", cap=5) for i in range(7)]
    assert listed == [True] * 5 + [False] * 2
    assert box.held == 7 and box.held_ids == ["s0", "s1", "s2", "s3", "s4"]
    assert not policy.summary_due(box, realert, T0 + 9 * MIN)
    assert policy.summary_due(box, realert, T0 + 10 * MIN)
    policy.close_summary(box)
    assert box.held == 0 and box.held_ids == [] and box.idle
    # A new window starts with the next match after the old one closed.
    assert policy.admit(box, realert, T0 + 11 * MIN)
    assert box.window_start == T0 + 11 * MIN and box.window_sent == 1


def test_no_realert_means_no_flood_control():
    box = Mailbox()
    assert all(policy.admit(box, None, T0 + i) for i in range(100))
    assert not policy.summary_due(box, None, T0)


def test_digest_opens_with_first_story_and_is_due_every_minutes_later():
    box = Mailbox()
    assert policy.buffer(box, digest, "s1", T0, cap=2)
    assert policy.buffer(box, digest, "s2", T0 + MIN, cap=2)
    assert policy.buffer(box, digest, "s1", T0 + 2 * MIN, cap=2)  # already listed: no change
    assert not policy.buffer(box, digest, "s3", T0 + 3 * MIN, cap=2)  # over the cap: counted
    assert box.digest_ids == ["s1", "s2"] and box.digest_more == 1
    assert not policy.digest_due(box, digest, T0 + 14 * MIN)
    assert policy.digest_due(box, digest, T0 + 15 * MIN)
    policy.close_digest(box)
    assert box.digest_seq == 1 and box.idle and box.digest_opened is None
    assert not policy.digest_due(box, digest, T0 + 60 * MIN)  # nothing in it


def test_digest_due_in_quiet_hours_waits_for_them_to_end():
    box = Mailbox()
    policy.buffer(box, sleepy_digest, "s1", at(21, 50), cap=10)
    assert box.digest_due == at(22, 5)
    assert not policy.digest_due(box, sleepy_digest, at(22, 5))
    assert box.digest_due == at(7, day=7)
    assert not policy.digest_due(box, sleepy_digest, at(6, 59, day=7))
    assert policy.digest_due(box, sleepy_digest, at(7, 0, day=7))


def test_instant_subscriber_in_quiet_hours_gets_one_digest_when_they_end():
    box = Mailbox()
    for i, when in enumerate([at(23), at(1, day=7), at(6, 30, day=7)]):
        assert policy.route(sleeper, None, when) == "digest"
        policy.buffer(box, sleeper, f"s{i}", when, cap=10)
    assert box.digest_due == at(7, day=7)
    assert not policy.digest_due(box, sleeper, at(6, 59, day=7))
    assert policy.digest_due(box, sleeper, at(7, 1, day=7))
    assert box.digest_ids == ["s0", "s1", "s2"]


def test_quiet_hours_in_a_zone_follow_its_clock():
    tokyo = Subscription(channel="console", target="console", quiet_hours=QuietHours(start="22:00", end="07:00", tz="Asia/Tokyo"))
    # 14:00 UTC is 23:00 in Tokyo.
    assert policy.route(tokyo, None, at(14)) == "digest"
    box = Mailbox()
    policy.buffer(box, tokyo, "s", at(14), cap=5)
    assert box.digest_due == at(22)  # 07:00 Tokyo = 22:00 UTC


def test_state_survives_a_round_trip_through_json():
    box = Mailbox()
    policy.admit(box, Realert(max=1, minutes=1), T0)
    policy.hold(box, "x", cap=3)
    policy.buffer(box, digest, "s1", T0, cap=3)
    again = Mailbox.model_validate(box.model_dump(mode="json"))
    assert again == box


def test_alert_ids_are_stable_and_distinct():
    a = policy.alert_id("instant", "rule", "email:a@example.com", "story-1")
    assert a == policy.alert_id("instant", "rule", "email:a@example.com", "story-1")
    assert a != policy.alert_id("instant", "rule", "email:b@example.com", "story-1")
    assert a.startswith("instant-")


def test_memory_is_forgotten_after_its_days():
    assert not policy.forgotten(T0, T0 + 29 * 86400, memory_days=30)
    assert policy.forgotten(T0, T0 + 31 * 86400, memory_days=30)


def test_a_match_decided_again_after_a_crash_is_the_same_alert_not_a_held_one():
    # The mailbox reached Kafka with the window full, the "handled" record did
    # not: the story that filled the window comes again.
    realert = Realert(max=2, minutes=60)
    box = Mailbox()
    assert policy.admit(box, realert, 0.0, "s1") and policy.admit(box, realert, 1.0, "s2")
    assert not policy.admit(box, realert, 2.0, "s3")
    assert policy.admit(box, realert, 3.0, "s2")  # again: admitted, not counted
    assert box.window_sent == 2 and box.window_ids == ["s1", "s2"]
    assert not policy.admit(box, realert, 4.0, "s4")
    # A held story held again is listed and counted once.
    assert policy.hold(box, "s3", 50) is True
    assert policy.hold(box, "s3", 50) is False
    assert box.held == 1 and box.held_ids == ["s3"]
    # A new window forgets the old one's stories.
    assert policy.admit(box, realert, 3601.0, "s1") and box.window_ids == ["s1"]


def test_may_be_due_is_never_false_when_a_tick_would_act():
    """The cheap check on a stored mailbox against what `flush_due` decides with the model."""
    import random

    rng = random.Random(7)
    realerts = [None, Realert(max=3, minutes=10)]
    subs = [instant, digest, sleeper, sleepy_digest]
    checked = skipped = 0
    for _ in range(3000):
        realert, sub = rng.choice(realerts), rng.choice(subs)
        box = Mailbox()
        start = T0 + rng.randrange(0, 48 * 60) * MIN
        for i in range(rng.randrange(0, 8)):
            now = start + i * MIN
            kind = rng.choice(["instant", "digest", "embargo"])
            if kind == "instant" and not policy.admit(box, realert, now, f"s{i}"):
                policy.hold(box, f"s{i}", cap=5)
            elif kind == "digest" and (sub.mode == "digest" or sub.quiet_hours is not None):
                policy.buffer(box, sub, f"s{i}", now, cap=3)
            elif kind == "embargo":
                box.embargoed[f"s{i}"] = now + rng.randrange(1, 120) * MIN
        later = start + rng.randrange(0, 90) * MIN
        stored = box.model_dump(mode="json")
        model = Mailbox.model_validate(stored)
        acts = (bool(policy.lifted(model.model_copy(deep=True), later))
                or policy.summary_due(model, realert, later)
                or policy.digest_due(model.model_copy(deep=True), sub, later)
                or (model.idle and (realert is None or model.window_start is None
                                    or later >= model.window_start + realert.seconds)))
        if acts:
            assert policy.may_be_due(stored, realert, later), (stored, realert, sub, later)
            checked += 1
        elif not policy.may_be_due(stored, realert, later):
            skipped += 1
    assert checked > 500 and skipped > 500, (checked, skipped)


def test_a_mailbox_stored_with_held_matches_inside_still_lists_them_and_takes_new_ones_beside():
    """Mailboxes written by earlier versions kept held matches in `held_items`."""
    stored = {"window_start": T0, "window_sent": 1, "window_ids": ["a"], "held": 2,
              "held_items": [{"story": {"id": "b"}}, {"story": {"id": "c"}}]}
    box = Mailbox.model_validate(stored)
    assert policy.hold(box, "b", cap=3) is False  # listed already, in the old form
    assert policy.hold(box, "d", cap=3) is True
    assert policy.hold(box, "e", cap=3) is False  # two old and one new: the cap
    assert box.held == 4 and box.held_ids == ["d"]
    assert policy.withdraw(box, "c") is True
    assert box.held == 3 and [i["story"]["id"] for i in box.held_items] == ["b"]
    policy.close_summary(box)
    assert box.held == 0 and box.held_items == [] and box.held_ids == []
