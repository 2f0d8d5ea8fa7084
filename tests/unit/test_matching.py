"""The match stage's pure part: what goes to the index and what to the alert stage."""

from __future__ import annotations

import pytest

from streams.matching import match_story
from wirewatch.errors import InputError
from wirewatch.model import Match, Story, StoryMatches, Withdrawal, read_matches, read_matches_message
from wirewatch.pipeline.tables import by_hash
from wirewatch.query import Matcher

RULES = {"oil": "oil", "opec": "opec", "gas": "gas", "cocoa": "cocoa", "crude": '"crude oil"'}


def story(**kw) -> Story:
    return Story(id="s1", source="wire", title="OPEC cuts crude oil output", body="Gas prices follow.", **kw)


def test_every_rule_goes_to_the_index_and_only_subscribed_ones_to_the_alert_stage():
    matcher = Matcher.from_rules(RULES)
    partition_of = by_hash(4)
    matched, groups = match_story(matcher, story(), subscribed={"oil", "gas", "crude", "cocoa"}, partition_of=partition_of)
    assert matched.rules == ("crude", "gas", "oil", "opec")
    # Grouped by the partition of each rule id; the story carried once per group.
    assert sorted(r for g in groups.values() for r in g.rules) == ["crude", "gas", "oil"]
    for partition, group in groups.items():
        assert all(partition_of(r.encode()) == partition for r in group.rules)
        assert group.story == matched.story
    assert len(groups) <= 3


def test_no_subscribed_rule_sends_nothing_to_the_alert_stage():
    matched, groups = match_story(Matcher.from_rules(RULES), story(), subscribed=set())
    assert matched.rules and groups == {}


def test_a_withheld_story_is_indexed_but_matches_nothing():
    matched, groups = match_story(Matcher.from_rules(RULES), story(pubstatus="withheld"), subscribed={"oil"})
    assert matched.rules == () and groups == {}


@pytest.mark.parametrize("kill", [{"pubstatus": "canceled"}, {"signals": ("kill",)}, {"signals": ("update", "kill")}])
def test_a_killed_story_matches_nothing_and_goes_to_every_partition_once(kill):
    killed = story(version=3, **kill)
    matched, groups = match_story(Matcher.from_rules(RULES), killed, subscribed={"oil"}, partition_of=by_hash(4), partitions=4)
    assert matched.rules == () and matched.story == killed  # indexed whole
    assert sorted(groups) == [0, 1, 2, 3]
    for group in groups.values():
        assert isinstance(group, Withdrawal)
        # Small: no body; what a notice needs is kept.
        assert group.withdrawn.body == "" and group.withdrawn.id == "s1" and group.withdrawn.version == 3
        assert group.withdrawn.title == killed.title
        assert read_matches_message(group.to_json()) == group
        with pytest.raises(InputError):
            read_matches(group.to_json())


def test_kill_and_embargo_of_a_story():
    from datetime import datetime, timezone

    assert not story().withdrawn and not story(signals=("update", "correction")).withdrawn
    assert story(pubstatus="canceled").withdrawn and story(signals=("kill",)).withdrawn
    noon = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    held = story(embargo=datetime(2026, 12, 5, 13, tzinfo=timezone.utc))
    assert held.embargoed(noon) and not held.embargoed(datetime(2026, 12, 5, 13, tzinfo=timezone.utc))
    assert not story().embargoed(noon)


def test_the_matches_topic_carries_groups_and_single_matches():
    s = story()
    group = StoryMatches(story=s, rules=("oil", "gas"))
    assert [m.rule_id for m in read_matches(group.to_json())] == ["oil", "gas"]
    assert all(m.story == s for m in read_matches(group.to_json()))
    assert [m.rule_id for m in read_matches(Match(rule_id="opec", story=s).to_json())] == ["opec"]
    for bad in (b"{not json", b'{"story": {"id": "x"}}', b'{"rule_id": "x"}', b'{"story": {"id": "x", "source": "w"}, "rules": []}'):
        with pytest.raises(InputError):
            read_matches(bad, "t[0]@1")


def test_by_hash_of_the_first_field_puts_a_rules_state_with_the_rule():
    whole, first = by_hash(4), by_hash(4, first_field=True)
    for rule in ("oil", "opec", "rule-000123"):
        assert first(f"{rule}\x1fdesk@example.com".encode()) == whole(rule.encode())


def test_runs_keep_order_and_stay_within_their_count_and_size():
    from streams.matching import runs

    items = [b"x" * n for n in (10, 10, 10, 50, 10, 200, 10)]
    cut = runs(items, len, max_items=3, max_bytes=60)
    assert [x for run in cut for x in run] == items  # nothing lost, nothing reordered
    assert [[len(x) for x in run] for run in cut] == [[10, 10, 10], [50, 10], [200], [10]]
    assert runs([], len, 3) == []
