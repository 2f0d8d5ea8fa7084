"""Pure: a story and a matcher in, the records to send out."""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Protocol

from wirewatch.model import MatchedStory, Story, StoryMatches, utcnow


class StoryMatcher(Protocol):
    def match(self, title: str, body: str) -> list[str]: ...


def match_story(
    matcher: StoryMatcher,
    story: Story,
    subscribed: Container[str] = frozenset(),
    partition_of: Callable[[bytes], int] = lambda _key: 0,
) -> tuple[MatchedStory, dict[int, StoryMatches]]:
    """The story with the ids of every rule it matches, and what the alert stage needs to know.

    Only rules in `subscribed` (those with someone to alert) go to the alert
    stage, grouped by `partition_of(rule id)`: one StoryMatches per
    partition, the story carried once in each.

    A withheld or canceled story is still indexed (so search shows its
    status) but matches nothing: nobody should be alerted about a story its
    agency pulled.
    """
    now = utcnow()
    if story.pubstatus != "usable":
        return MatchedStory(story=story, rules=(), matched_at=now), {}
    rule_ids = matcher.match(story.title, story.body)
    matched = MatchedStory(story=story, rules=tuple(rule_ids), matched_at=now)
    by_partition: dict[int, list[str]] = {}
    for rule_id in rule_ids:
        if rule_id in subscribed:
            by_partition.setdefault(partition_of(rule_id.encode()), []).append(rule_id)
    return matched, {p: StoryMatches(story=story, matched_at=now, rules=tuple(r)) for p, r in by_partition.items()}
