"""Pure: a story and a matcher in, the records to send out."""

from __future__ import annotations

from typing import Protocol

from wirewatch.model import Hit, Match, MatchedStory, Story, utcnow


class StoryMatcher(Protocol):
    def match(self, title: str, body: str) -> list[str]: ...

    def hits(self, title: str, body: str, rule_ids=None) -> dict[str, list[Hit]]: ...


def match_story(matcher: StoryMatcher, story: Story) -> tuple[MatchedStory, list[Match]]:
    """The story with the ids of every rule it matches, and one Match per rule.

    A withheld or canceled story is still indexed (so search shows its
    status) but matches nothing: nobody should be alerted about a story its
    agency pulled.
    """
    now = utcnow()
    if story.pubstatus != "usable":
        return MatchedStory(story=story, rules=(), matched_at=now), []
    rule_ids = matcher.match(story.title, story.body)
    if not rule_ids:
        return MatchedStory(story=story, rules=(), matched_at=now), []
    hits = matcher.hits(story.title, story.body, rule_ids)
    matches = [Match(rule_id=r, story=story, matched_at=now, hits=tuple(hits.get(r, ()))) for r in rule_ids]
    return MatchedStory(story=story, rules=tuple(rule_ids), matched_at=now), matches
