"""Pure: a story and a matcher in, the records to send out."""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Protocol, TypeVar

from wirewatch.model import MatchedStory, Story, StoryMatches, Withdrawal, utcnow


class StoryMatcher(Protocol):
    def match(self, title: str, body: str) -> list[str]: ...


def match_story(
    matcher: StoryMatcher,
    story: Story,
    subscribed: Container[str] = frozenset(),
    partition_of: Callable[[bytes], int] = lambda _key: 0,
    partitions: int = 1,
) -> tuple[MatchedStory, dict[int, StoryMatches | Withdrawal]]:
    """The story with the ids of every rule it matches, and what the alert stage needs to know.

    Only rules in `subscribed` (those with someone to alert) go to the alert
    stage, grouped by `partition_of(rule id)`: one StoryMatches per
    partition, the story carried once in each.

    A withheld or canceled story is still indexed (so search shows its
    status) but matches nothing: nobody should be alerted about a story its
    agency pulled.  A killed one (`Story.withdrawn`) goes to the alert stage
    as a `Withdrawal` on each of the `partitions` of the matches topic: any
    of them may hold a rule that alerted about an earlier version.
    """
    now = utcnow()
    if story.withdrawn:
        slim = Withdrawal(withdrawn=story.model_copy(update={"body": ""}), at=now)
        return MatchedStory(story=story, rules=(), matched_at=now), {p: slim for p in range(partitions)}
    if story.pubstatus != "usable":
        return MatchedStory(story=story, rules=(), matched_at=now), {}
    rule_ids = matcher.match(story.title, story.body)
    matched = MatchedStory(story=story, rules=tuple(rule_ids), matched_at=now)
    by_partition: dict[int, list[str]] = {}
    for rule_id in rule_ids:
        if rule_id in subscribed:
            by_partition.setdefault(partition_of(rule_id.encode()), []).append(rule_id)
    return matched, {p: StoryMatches(story=story, matched_at=now, rules=tuple(r)) for p, r in by_partition.items()}


T = TypeVar("T")

# Below Kafka's default largest message (1 MB) with room for the envelope.
BATCH_MAX_BYTES = 512 * 1024


def runs(items: list[T], size: Callable[[T], int], max_items: int, max_bytes: int = BATCH_MAX_BYTES) -> list[list[T]]:
    """`items` cut, in order, into runs of at most `max_items` and `max_bytes` (a larger item alone)."""
    out: list[list[T]] = []
    run: list[T] = []
    used = 0
    for item in items:
        n = size(item)
        if run and (len(run) >= max_items or used + n > max_bytes):
            out.append(run)
            run, used = [], 0
        run.append(item)
        used += n
    if run:
        out.append(run)
    return out
