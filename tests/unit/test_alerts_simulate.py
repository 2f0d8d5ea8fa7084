"""What subscribers would have received: the stage's policy replayed over past matches."""

from alerts.simulate import SimAlert, simulate
from alerts.subscriptions import Realert, RuleAlerting, Subscription, parse

from subscribers import MIN, at, digest, instant, night, sleeper, sleepy_digest


def rule(*subs: Subscription, realert: Realert | None = Realert()) -> RuleAlerting:
    return RuleAlerting(rule_id="r", subscribers=subs, realert=realert)


def test_instant_alerts_one_per_match_within_the_flood_limit():
    [t] = simulate(rule(instant), [("s1", None, at(9)), ("s2", None, at(10)), ("s3", None, at(11))])
    assert t.alerts == [SimAlert("instant", at(9), ("s1",)), SimAlert("instant", at(10), ("s2",)), SimAlert("instant", at(11), ("s3",))]
    assert (t.matches, t.held, t.count("summary")) == (3, 0, 0)


def test_a_flood_sends_max_then_one_summary_when_the_window_closes():
    matches = [(f"s{i}", None, at(9) + i * MIN) for i in range(8)]  # 8 in 8 minutes
    [t] = simulate(rule(instant, realert=Realert(max=3, minutes=10)), matches)
    assert [a.kind for a in t.alerts] == ["instant"] * 3 + ["summary"]
    summary = t.alerts[-1]
    assert summary.at == at(9) + 10 * MIN and summary.stories == ("s3", "s4", "s5", "s6", "s7")
    assert t.held == 5 and summary.size == 5


def test_the_summary_goes_out_at_the_window_end_even_when_the_next_match_is_days_later():
    matches = [("a", None, at(9)), ("b", None, at(9, 1)), ("c", None, at(9, 0, day=9))]
    [t] = simulate(rule(instant, realert=Realert(max=1, minutes=10)), matches)
    assert [(a.kind, a.at, a.stories) for a in t.alerts] == [
        ("instant", at(9), ("a",)),
        ("summary", at(9, 10), ("b",)),
        ("instant", at(9, 0, day=9), ("c",)),
    ]


def test_a_summary_lists_at_most_the_cap_and_counts_the_rest():
    matches = [(f"s{i}", None, at(9) + i) for i in range(30)]
    [t] = simulate(rule(instant, realert=Realert(max=2, minutes=10)), matches, cap=5)
    summary = t.alerts[-1]
    assert summary.kind == "summary" and len(summary.stories) == 5 and summary.unlisted == 23 and t.held == 28


def test_no_flood_control_sends_every_match():
    [t] = simulate(rule(instant, realert=None), [(f"s{i}", None, at(9) + i) for i in range(40)])
    assert t.count("instant") == 40 and t.held == 0


def test_digests_every_n_minutes_with_what_arrived_meanwhile():
    matches = [("a", None, at(9)), ("b", None, at(9, 5)), ("c", None, at(9, 20)), ("d", None, at(12))]
    [t] = simulate(rule(digest), matches)
    assert [(a.kind, a.at, a.stories) for a in t.alerts] == [
        ("digest", at(9, 15), ("a", "b")),
        ("digest", at(9, 35), ("c",)),
        ("digest", at(12, 15), ("d",)),  # sent by `finish`, after the last match
    ]
    assert t.count("instant") == 0 and t.stories_in("digest") == 4


def test_quiet_hours_hold_matches_until_morning_and_urgent_ones_break_through():
    matches = [("day", None, at(12)), ("late", None, at(23)), ("urgent", 1, at(23, 30)), ("night", 5, at(3, 0, day=7))]
    [t] = simulate(rule(sleeper), matches)
    assert [(a.kind, a.at, a.stories) for a in t.alerts] == [
        ("instant", at(12), ("day",)),
        ("instant", at(23, 30), ("urgent",)),
        ("digest", at(7, 0, day=7), ("late", "night")),
    ]
    assert (t.quiet_held, t.broke_through) == (2, 1)


def test_a_digest_due_in_quiet_hours_waits_for_them_to_end():
    [t] = simulate(rule(sleepy_digest), [("a", None, at(21, 50))])
    assert [(a.kind, a.at) for a in t.alerts] == [("digest", at(7, 0, day=7))]
    assert t.postponed == 1


def test_each_subscriber_has_a_mailbox_of_its_own():
    matches = [(f"s{i}", None, at(9) + i * MIN) for i in range(4)]
    a, b = simulate(rule(instant, digest, realert=Realert(max=2, minutes=10)), matches)
    assert [x.kind for x in a.alerts] == ["instant", "instant", "summary"]
    assert [x.kind for x in b.alerts] == ["digest"] and b.alerts[0].stories == ("s0", "s1", "s2", "s3")


def test_the_rules_file_form_of_a_rule():
    alerting = parse(
        "coffee",
        {"subscribers": [{"email": ["x@example.com", "y@example.com"], "mode": "digest", "every": 1}], "realert": False},
    )
    tallies = simulate(alerting, [("a", None, at(9)), ("b", None, at(9, 0, day=7))])
    assert [t.subscription.target for t in tallies] == ["x@example.com", "y@example.com"]
    assert all([a.at for a in t.alerts] == [at(9, 1), at(9, 1, day=7)] for t in tallies)


def test_a_story_slightly_out_of_order_is_decided_at_the_clock_as_it_is():
    [t] = simulate(rule(instant), [("a", None, at(9)), ("b", None, at(8))])
    assert [a.at for a in t.alerts] == [at(9), at(9)]
