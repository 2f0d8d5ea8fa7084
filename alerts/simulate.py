"""Pure: what a rule's subscribers would have received for matches of the past.

The alert stage's own decisions (`policy.route`, `admit`, `hold`, `buffer`,
`summary_due`, `digest_due`, in the order `stage.AlertStage._decide_one`
and `flush_due` call them), replayed on a clock that jumps from match to
match instead of being driven by the stage's ticks: before each match,
every flood summary and digest that fell due since the last one is sent at
the moment it fell due, and `finish` sends what is still owed afterwards.
Nothing is sent anywhere: the alerts are returned as records.

The one difference from a worker is time: the stage decides a match when
it arrives, the backtest at the story's own time (its `@timestamp`, when
it was published), which is when a live rule would have seen it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from . import policy
from .policy import Mailbox
from .subscriptions import Realert, RuleAlerting, Subscription

Kind = Literal["instant", "summary", "digest"]


@dataclass(frozen=True)
class SimAlert:
    """One alert a subscriber would have received."""

    kind: Kind
    at: float  # when it would have been sent (seconds since the epoch, UTC)
    stories: tuple[str, ...]  # the stories it lists
    unlisted: int = 0  # and how many more it only counts (beyond the listing cap)

    @property
    def size(self) -> int:
        return len(self.stories) + self.unlisted


@dataclass
class SubscriberTally:
    """What one subscriber of one rule would have received, and why."""

    subscription: Subscription
    alerts: list[SimAlert] = field(default_factory=list)
    matches: int = 0
    held: int = 0  # instant alerts flood control held back for a summary
    quiet_held: int = 0  # matches quiet hours moved into a digest (instant subscribers)
    broke_through: int = 0  # urgent matches sent at once in quiet hours
    postponed: int = 0  # digests that fell due in quiet hours and waited for them to end

    def count(self, kind: Kind) -> int:
        return sum(1 for a in self.alerts if a.kind == kind)

    def stories_in(self, kind: Kind) -> int:
        return sum(a.size for a in self.alerts if a.kind == kind)


class _Box:
    """One subscriber's mailbox, as the stage keeps it per (rule, subscriber)."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.box = Mailbox()
        self.tally = SubscriberTally(sub)

    def next_due(self, realert: Realert | None, now: float) -> float | None:
        """The next moment a summary or digest of this mailbox may fall due, if it owes one."""
        times = []
        if self.box.held:
            # Without a window (flood control switched off since) the stage sends what is held at once.
            times.append(self.box.window_start + realert.seconds if realert and self.box.window_start is not None else now)
        if self.box.digest_opened is not None and (self.box.digest_ids or self.box.digest_more):
            times.append(self.box.digest_due if self.box.digest_due is not None else now)
        return min(times) if times else None


class Simulation:
    """The alerts of one rule's subscribers, fed the rule's matches in time order."""

    def __init__(self, rule: RuleAlerting, cap: int = 50) -> None:
        self.rule = rule
        self.cap = cap
        self._boxes = [_Box(sub) for sub in rule.subscribers]
        self._now = float("-inf")

    @property
    def tallies(self) -> list[SubscriberTally]:
        return [b.tally for b in self._boxes]

    def match(self, story_id: str, urgency: int | None, at: float) -> None:
        """One match of the rule, decided at `at` (a story a moment older than the last is taken as simultaneous)."""
        now = self._now = max(self._now, at)
        rule = self.rule
        for b in self._boxes:
            self._send_due(b, now)
            sub, box, tally = b.sub, b.box, b.tally
            tally.matches += 1
            quiet = sub.quiet_hours is not None and sub.quiet_hours.contains(policy.moment(now))
            if policy.route(sub, urgency, now) == "instant":
                if quiet:
                    tally.broke_through += 1
                if policy.admit(box, rule.realert, now, story_id):
                    tally.alerts.append(SimAlert("instant", now, (story_id,)))
                else:
                    policy.hold(box, story_id, self.cap)
                    tally.held += 1
            else:
                if quiet and sub.mode == "instant":
                    tally.quiet_held += 1
                policy.buffer(box, sub, story_id, now, self.cap)

    def finish(self) -> list[SubscriberTally]:
        """Send everything still owed, each when it falls due; the tallies."""
        for b in self._boxes:
            self._send_due(b, float("inf"))
        return self.tallies

    def _send_due(self, b: _Box, until: float) -> None:
        """Send, at the moment each falls due, the summaries and digests due up to `until`."""
        rule, box, sub = self.rule, b.box, b.sub
        while True:
            at = b.next_due(rule.realert, self._now)
            if at is None or at > until:
                return
            before = box.model_copy(deep=True)
            if policy.summary_due(box, rule.realert, at):
                listed = tuple(box.held_ids)
                b.tally.alerts.append(SimAlert("summary", at, listed, box.held - len(listed)))
                policy.close_summary(box)
            planned = box.digest_due
            if policy.digest_due(box, sub, at):
                b.tally.alerts.append(SimAlert("digest", at, tuple(box.digest_ids), box.digest_more))
                policy.close_digest(box)
            elif box.digest_due != planned:
                b.tally.postponed += 1
            if box == before:  # pragma: no cover - each round sends or postpones something
                raise AssertionError(f"nothing fell due at {at} though {before} owes something")


def simulate(rule: RuleAlerting, matches: Iterable[tuple[str, int | None, float]], cap: int = 50) -> list[SubscriberTally]:
    """The tallies of a rule's subscribers for (story id, urgency, time) matches in time order."""
    sim = Simulation(rule, cap)
    for story_id, urgency, at in matches:
        sim.match(story_id, urgency, at)
    return sim.finish()
