"""Story lifecycle in the alert policy: embargoes wait, kills take back what waits."""

from datetime import datetime, timezone

from alerts import policy
from alerts.policy import Mailbox
from alerts.subscriptions import Realert, Subscription

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc).timestamp()
digest = Subscription(channel="email", target="b@example.com", mode="digest", every=15)


def test_embargoed_stories_wait_and_lift_in_embargo_order():
    box = Mailbox()
    policy.embargo(box, "late", T0 + 120)
    policy.embargo(box, "early", T0 + 60)
    policy.embargo(box, "early", T0 + 999)  # decided again: keeps its time
    assert not box.idle  # a mailbox with a waiting story is never forgotten
    assert policy.lifted(box, T0 + 59) == []
    assert policy.lifted(box, T0 + 200) == ["early", "late"]
    assert box.embargoed == {} and box.idle
    assert policy.lifted(box, T0 + 300) == []  # once only


def test_a_killed_story_waiting_anywhere_is_taken_out_and_owed_no_notice():
    box = Mailbox()
    realert = Realert(max=1, minutes=10)
    assert policy.admit(box, realert, T0, "sent")
    assert not policy.admit(box, realert, T0, "held")
    policy.hold(box, "held", cap=10)
    policy.hold(box, "other", cap=10)
    policy.buffer(box, digest, "in-digest", T0, cap=10)
    policy.embargo(box, "embargoed", T0 + 60)

    for story_id in ("held", "in-digest", "embargoed"):
        assert policy.withdraw(box, story_id) is True
    assert box.held == 1 and box.held_ids == ["other"]
    assert box.digest_ids == [] and box.digest_opened is None  # nothing left to send as a digest
    assert not policy.digest_due(box, digest, T0 + 3600)
    assert box.embargoed == {} and policy.lifted(box, T0 + 3600) == []
    # Sent at once: the subscriber got it, a notice is owed.
    assert policy.withdraw(box, "sent") is False
    # The same kill decided again after a crash still knows it was waiting.
    assert policy.withdraw(box, "held") is True and box.held == 1


def test_a_digest_keeps_its_other_stories_when_one_is_killed():
    box = Mailbox()
    policy.buffer(box, digest, "a", T0, cap=10)
    policy.buffer(box, digest, "b", T0, cap=10)
    assert policy.withdraw(box, "a")
    assert box.digest_ids == ["b"] and policy.digest_due(box, digest, T0 + 15 * 60)


def test_withdrawn_notice_ids_are_per_person_and_story():
    one = policy.alert_id("withdrawn", "email", "a@example.com", "s1")
    assert one == policy.alert_id("withdrawn", "email", "a@example.com", "s1")
    assert one != policy.alert_id("withdrawn", "email", "b@example.com", "s1")
    assert one.startswith("withdrawn-")
