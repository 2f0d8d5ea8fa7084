"""The pure part of `wirewatch rules backtest`: real Reuters stories, the example rules, the matcher as oracle."""

import itertools
import json
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from alerts.simulate import simulate
from alerts.subscriptions import parse
from producers.sources import read_stories
from wirewatch.backtest import Backtest, Indexed, RuleInfo, day_of, indexed_of, rule_infos, tally_summary, to_json
from wirewatch.query import Matcher
from wirewatch.rules import load_rules

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rules.yaml"


@pytest.fixture(scope="module")
def stories(corpus_dir) -> list[Indexed]:
    reuters = [corpus_dir / "reuters21578" / f"reut2-00{i}.sgm" for i in range(3)]
    found = [
        Indexed(s.id, (s.published or s.received).timestamp(), s.title, s.body, s.urgency)
        for s in itertools.islice(read_stories(reuters), 3000)
    ]
    return sorted(found, key=lambda s: s.at)


@pytest.fixture(scope="module")
def rules():
    found, problems = load_rules(EXAMPLES)
    assert not problems
    return found


def run(rules, stories, page: int, **kw) -> Backtest:
    bt = Backtest(rule_infos(rules), {r.id: parse(r.id, r.to_dict()) for r in rules}, **kw)
    for at in range(0, len(stories), page):
        bt.add(stories[at : at + page])
    return bt


def test_counts_per_day_and_samples_are_the_matchers(rules, stories):
    report = run(rules, stories, page=500).report()
    oracle = Matcher.from_rules(rules)
    matched = {r.id: [s for s in stories if r.id in oracle.match(s.title, s.body)] for r in rules}
    assert report.stories == len(stories)
    assert (report.first, report.last) == (stories[0].at, stories[-1].at)
    assert report.per_day == Counter(datetime.fromtimestamp(s.at, timezone.utc).date() for s in stories)
    assert report.days == sorted(report.per_day) and report.days[0] == report.first_day
    assert [o.rule.id for o in report.rules] == [r.id for r in rules]
    assert sum(o.matches for o in report.rules) > 20  # the example rules do match this corpus
    for o in report.rules:
        want = matched[o.rule.id]
        assert o.matches == len(want) == sum(o.per_day.values())
        assert o.per_day == Counter(datetime.fromtimestamp(s.at, timezone.utc).date() for s in want)
        # The newest three, newest first, each with the rule's words marked.
        assert [s.story.id for s in o.samples] == [s.id for s in want[::-1][:3]]
        for sample in o.samples:
            assert sample.hits
            assert "**" in sample.marked_title() + "".join(sample.marked_body())


def test_the_page_size_changes_nothing(rules, stories):
    one = to_json(run(rules, stories[:800], page=1).report())
    many = to_json(run(rules, stories[:800], page=800).report())
    assert one == many


def test_subscribers_get_what_the_alert_policy_decides(rules, stories):
    report = run(rules, stories, page=1000).report()
    oracle = Matcher.from_rules(rules)
    for o in report.rules:
        rule = next(r for r in rules if r.id == o.rule.id)
        alerting = parse(rule.id, rule.to_dict())
        assert len(o.subscribers) == len(alerting.subscribers)
        want = simulate(alerting, [(s.id, s.urgency, s.at) for s in stories if rule.id in oracle.match(s.title, s.body)])
        assert [t.alerts for t in o.subscribers] == [t.alerts for t in want]
        for tally in o.subscribers:
            assert tally.matches == o.matches
            if tally.subscription.mode == "digest":
                assert tally.stories_in("digest") == o.matches and tally.count("instant") == 0
            elif tally.subscription.quiet_hours is None:
                # Every match is an instant alert or held back for a flood summary; none is lost.
                assert tally.count("instant") + tally.held == o.matches
                assert tally.stories_in("summary") == tally.held


def test_a_flood_in_the_corpus_is_summarised(rules, stories):
    # interest-rates has realert {max: 5, minutes: 10}; give it a window of a day to see a summary.
    rates = next(r for r in rules if r.id == "interest-rates")
    raw = {**rates.to_dict(), "realert": {"max": 1, "minutes": 1440}}
    bt = Backtest([RuleInfo("interest-rates", rates.query)], {"interest-rates": parse("interest-rates", raw)})
    bt.add(stories)
    [o] = bt.report().rules
    assert o.matches >= 3
    email = o.subscribers[1]
    assert email.count("summary") >= 1 and email.held >= 1
    assert "flood summar" in tally_summary(email) and "held back" in tally_summary(email)


def test_json_has_every_rule_with_days_samples_and_alerts(rules, stories):
    data = json.loads(json.dumps(to_json(run(rules, stories, page=1000).report(), index="x", since="2024")))
    assert data["index"] == "x" and data["stories"] == len(stories)
    assert [r["id"] for r in data["rules"]] == [r.id for r in rules]
    busy = max(data["rules"], key=lambda r: r["matches"])
    assert busy["matches"] == sum(busy["per_day"].values()) and busy["samples"]
    assert {"id", "at", "title", "title_marked", "body_marked", "hits"} <= set(busy["samples"][0])
    sub = busy["subscribers"][0]
    assert sub["instant"] == sum(1 for a in sub["alerts"] if a["kind"] == "instant")


def test_a_rule_without_subscribers_and_no_stories():
    bt = Backtest([RuleInfo("quiet", "zebra"), RuleInfo("oil", "oil")])
    bt.add([])
    bt.add([Indexed("s1", 0.0, "Oil up", "", None)])
    quiet, oil = bt.report().rules
    assert (quiet.matches, quiet.samples, quiet.subscribers, quiet.busiest) == (0, [], [], None)
    assert oil.matches == 1 and oil.busiest == (date(1970, 1, 1), 1) and oil.samples[0].marked_title() == "**Oil** up"


def test_indexed_of_a_document():
    src = {"@timestamp": "1987-02-26T15:01:01Z", "story_id": "r:1", "title": "T", "body": "B", "urgency": 3}
    assert indexed_of("r:1", src) == Indexed("r:1", datetime(1987, 2, 26, 15, 1, 1, tzinfo=timezone.utc).timestamp(), "T", "B", 3)
    assert indexed_of("x", {**src, "story_id": None}, at_ms=1000).at == 1.0
    assert indexed_of("x", {"@timestamp": "1987-02-26T15:01:01"}).at == indexed_of("x", src).at  # naive: UTC
    assert indexed_of("x", {"title": "no time"}) is None and indexed_of("x", {"@timestamp": "soon"}) is None
    assert indexed_of("x", {**src, "urgency": True}).urgency is None
    assert day_of(-1.0) == date(1969, 12, 31)
