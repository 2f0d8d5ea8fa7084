"""Pure: rules run over stories already indexed, and what they would have done.

`Backtest` is fed pages of indexed stories in time order (however they are
read: `wirewatch rules backtest` reads them from Elasticsearch) and keeps,
per rule: its matches per day, its latest matches as samples, and, through
`alerts.simulate` (the alert stage's own policy), what each subscriber
would have received.  `report` turns that into what the command prints;
`to_json` into what `--json` prints.  No Elasticsearch, Kafka or Faust here.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

from alerts.simulate import Simulation, SubscriberTally
from alerts.subscriptions import RuleAlerting

from .model import Hit
from .query import Matcher
from .snippets import passages

EPOCH = date(1970, 1, 1)
DAY = 86400


class Indexed(NamedTuple):
    """What a backtest needs of one indexed story."""

    id: str
    at: float  # its time (`@timestamp`), seconds since the epoch
    title: str
    body: str
    urgency: int | None = None


def indexed_of(doc_id: str, source: Mapping[str, Any], at_ms: Any = None) -> Indexed | None:
    """An index document's story; None when it has no usable time.

    `at_ms` is the document's sort value on `@timestamp` (epoch milliseconds)
    when the search sorted on it, which saves reading the date text again.
    """
    if isinstance(at_ms, (int, float)) and not isinstance(at_ms, bool):
        at = at_ms / 1000.0
    else:
        stamp = source.get("@timestamp")
        try:
            when = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
        except ValueError:
            when = None
        if when is None:
            return None
        at = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    urgency = source.get("urgency")
    return Indexed(
        source.get("story_id") or doc_id,
        at,
        source.get("title") or "",
        source.get("body") or "",
        urgency if isinstance(urgency, int) and not isinstance(urgency, bool) else None,
    )


def day_of(at: float) -> date:
    """The UTC day of a time."""
    return EPOCH + timedelta(days=int(at // DAY))


@dataclass(frozen=True)
class RuleInfo:
    """What is shown of a rule: its id, name and query."""

    id: str
    query: str
    name: str | None = None


@dataclass(frozen=True)
class Sample:
    """A matched story and where the rule's words are in it."""

    story: Indexed
    hits: tuple[Hit, ...]

    def spans(self, field_: str) -> list[tuple[int, int]]:
        return [(h.start, h.end) for h in self.hits if h.field == field_]

    def marked_title(self, left: str = "**", right: str = "**") -> str:
        title = self.story.title
        found = passages(title, self.spans("title"), context=len(title), limit=1)
        return found[0].marked(left, right, ellipsis="") if found else " ".join(title.split())

    def marked_body(self, left: str = "**", right: str = "**", limit: int = 2) -> list[str]:
        return [p.marked(left, right) for p in passages(self.story.body, self.spans("body"), limit=limit)]


@dataclass
class RuleOutcome:
    """One rule's backtest: how many stories it matched, on which days, samples, and its subscribers' alerts."""

    rule: RuleInfo
    matches: int = 0
    per_day: Counter = field(default_factory=Counter)  # UTC day -> matches
    samples: list[Sample] = field(default_factory=list)
    subscribers: list[SubscriberTally] = field(default_factory=list)

    @property
    def busiest(self) -> tuple[date, int] | None:
        return max(self.per_day.items(), key=lambda kv: (kv[1], kv[0])) if self.per_day else None


@dataclass
class Report:
    rules: list[RuleOutcome]
    stories: int  # stories read (and matched against every rule)
    first: float | None  # time of the oldest story read
    last: float | None  # and of the newest
    per_day: Counter = field(default_factory=Counter)  # UTC day -> stories read

    @property
    def days(self) -> list[date]:
        """The days that had stories, in order (the x axis of the charts: an archive may have long gaps)."""
        return sorted(self.per_day)

    @property
    def first_day(self) -> date | None:
        return day_of(self.first) if self.first is not None else None

    @property
    def last_day(self) -> date | None:
        return day_of(self.last) if self.last is not None else None


class Backtest:
    """Rules run over stories read in time order, with the alerts their subscribers would have had.

    `rules` are the rules to run (id, query, name); `alerting` the alert
    settings of those with any (`alerts.subscriptions.parse`).  Each page
    of stories is matched in one call (`Matcher.match_many`); only the
    matches are kept beyond it: counts per day, the last `samples` stories
    of each rule, and the simulated mailboxes.
    """

    def __init__(
        self,
        rules: Sequence[RuleInfo],
        alerting: Mapping[str, RuleAlerting] | None = None,
        samples: int = 3,
        cap: int = 50,
        engine: str | None = None,
    ) -> None:
        self.rules = {r.id: r for r in rules}
        self.matcher = Matcher.from_rules([(r.id, r.query) for r in rules], engine=engine)  # type: ignore[arg-type]
        self._days: dict[str, Counter] = {r: Counter() for r in self.rules}
        self._matches: Counter = Counter()
        self._latest: dict[str, deque] = {r: deque(maxlen=samples) for r in self.rules}
        self._sims = {r: Simulation(a, cap) for r, a in (alerting or {}).items() if r in self.rules and a.subscribers}
        self.read = 0
        self._read_days: Counter = Counter()
        self.first: float | None = None
        self.last: float | None = None

    def add(self, stories: Sequence[Indexed]) -> int:
        """Match one page of stories (in time order, after the pages before); how many matches it made."""
        if not stories:
            return 0
        found = self.matcher.match_many([(s.title, s.body) for s in stories])
        made = 0
        days, latest, sims, matches = self._days, self._latest, self._sims, self._matches
        for story, ids in zip(stories, found):
            if not ids:
                continue
            made += len(ids)
            day = int(story.at // DAY)
            for rule_id in ids:
                matches[rule_id] += 1
                days[rule_id][day] += 1
                latest[rule_id].append(story)
                sim = sims.get(rule_id)
                if sim is not None:
                    sim.match(story.id, story.urgency, story.at)
        self.read += len(stories)
        self._read_days.update(int(s.at // DAY) for s in stories)
        if self.first is None:
            self.first = stories[0].at
        self.last = stories[-1].at
        return made

    def report(self) -> Report:
        """Every rule's outcome, in the order the rules were given; sends what the mailboxes still owe."""
        outcomes = []
        for rule_id, rule in self.rules.items():
            samples = []
            for story in reversed(self._latest[rule_id]):  # newest first
                hits = self.matcher.hits(story.title, story.body, [rule_id]).get(rule_id, [])
                samples.append(Sample(story, tuple(hits)))
            sim = self._sims.get(rule_id)
            outcomes.append(
                RuleOutcome(
                    rule=rule,
                    matches=self._matches[rule_id],
                    per_day=Counter({EPOCH + timedelta(days=d): n for d, n in self._days[rule_id].items()}),
                    samples=samples,
                    subscribers=sim.finish() if sim is not None else [],
                )
            )
        read_days = Counter({EPOCH + timedelta(days=d): n for d, n in self._read_days.items()})
        return Report(outcomes, self.read, self.first, self.last, read_days)


# -- what is said about it -------------------------------------------------------------


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")


def subscriber_name(tally: SubscriberTally) -> str:
    sub = tally.subscription
    return "console" if sub.channel == "console" else f"{sub.channel} {sub.target_id}"


def tally_summary(tally: SubscriberTally) -> str:
    """What one subscriber would have received, in a line: '3 instant, 1 summary (12 held), …'."""
    parts = []
    instant = tally.count("instant")
    if instant or tally.subscription.mode == "instant":
        parts.append(f"{instant} instant")
    summaries = tally.count("summary")
    if summaries or tally.held:
        parts.append(f"{summaries} flood {'summary' if summaries == 1 else 'summaries'} ({tally.held} held back)")
    digests = tally.count("digest")
    if digests or tally.subscription.mode == "digest":
        listed = tally.stories_in("digest")
        parts.append(f"{digests} {'digest' if digests == 1 else 'digests'} ({listed} {'story' if listed == 1 else 'stories'})")
    if tally.quiet_held:
        parts.append(f"{tally.quiet_held} held by quiet hours")
    if tally.broke_through:
        parts.append(f"{tally.broke_through} broke through quiet hours")
    if tally.postponed:
        parts.append(f"{tally.postponed} {'digest' if tally.postponed == 1 else 'digests'} delayed by quiet hours")
    return ", ".join(parts) if tally.matches else "nothing"


def to_json(report: Report, **about: Any) -> dict[str, Any]:
    """The report as plain JSON types; `about` (index, since, seconds …) is put first."""
    return {
        **about,
        "stories": report.stories,
        "first": iso(report.first) if report.first is not None else None,
        "last": iso(report.last) if report.last is not None else None,
        "stories_per_day": {d.isoformat(): n for d, n in sorted(report.per_day.items())},
        "rules": [_rule_json(o) for o in report.rules],
    }


def _rule_json(o: RuleOutcome) -> dict[str, Any]:
    return {
        "id": o.rule.id,
        "name": o.rule.name,
        "query": o.rule.query,
        "matches": o.matches,
        "per_day": {d.isoformat(): n for d, n in sorted(o.per_day.items())},
        "samples": [
            {
                "id": s.story.id,
                "at": iso(s.story.at),
                "title": s.story.title,
                "title_marked": s.marked_title(),
                "body_marked": s.marked_body(),
                "hits": [h.model_dump() for h in s.hits],
            }
            for s in o.samples
        ],
        "subscribers": [_tally_json(t) for t in o.subscribers],
    }


def _tally_json(t: SubscriberTally) -> dict[str, Any]:
    sub = t.subscription
    return {
        "channel": sub.channel,
        "target": sub.target_id,
        "mode": sub.mode,
        "matches": t.matches,
        "instant": t.count("instant"),
        "summaries": t.count("summary"),
        "held": t.held,
        "digests": t.count("digest"),
        "digest_stories": t.stories_in("digest"),
        "quiet_hours_held": t.quiet_held,
        "broke_through": t.broke_through,
        "digests_delayed": t.postponed,
        "alerts": [
            {"kind": a.kind, "at": iso(a.at), "stories": list(a.stories), "unlisted": a.unlisted} for a in t.alerts
        ],
    }


def rule_infos(rules: Iterable[Any]) -> list[RuleInfo]:
    """RuleInfo of each `wirewatch.rules.Rule` (or anything with id, query and name)."""
    return [RuleInfo(r.id, r.query, getattr(r, "name", None)) for r in rules]
