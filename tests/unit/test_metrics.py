"""The worker's metrics: names, labels and values read from the stages' own counts, without servers."""

from __future__ import annotations

import asyncio
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from wirewatch.pipeline import metrics as metrics_module
from wirewatch.pipeline.counters import Counters
from wirewatch.pipeline.metrics import NAMES, TOP_RULES, Lag, Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scrape(m: Metrics) -> dict[str, list]:
    """Every sample by family name (as prometheus_client's parser gives it back)."""
    return {f.name: f.samples for f in text_string_to_metric_families(m.exposition().decode())}


def value(samples, name: str, **labels) -> float:
    (match,) = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return match


def worker_metrics(clock=None) -> tuple[Metrics, dict]:
    import logging

    m = Metrics(clock or Clock())
    match = Counters("match", logging.getLogger("test"))
    state = {"indexed": 0, "stale": 0, "rules": Counter(), "alerts": Counter(), "dead": Counter(), "dead2": Counter(),
             "lag": [], "match": match}
    s = m.sources
    s.match = match
    s.indexed = lambda: (state["indexed"], state["stale"])
    s.rule_matches = state["rules"]
    s.alerts_by_channel = state["alerts"]
    s.dead_letters = [state["dead"], state["dead2"]]
    s.lag = lambda: state["lag"]
    s.rules = lambda: (3, 7)
    s.ready = lambda: True
    s.alerts_gave_way = lambda: state["gave_way"]
    state["gave_way"] = 0.0
    return m, state


def test_counts_kept_by_the_stages_are_read_at_scrape_time():
    m, state = worker_metrics()
    state["match"].add(consumed=10, stories=9, matched=4, matches=6)
    state["indexed"], state["stale"] = 8, 1
    state["alerts"].update({("decided", "email"): 3, ("sent", "email"): 2, ("retried", "slack"): 5, ("parked", "slack"): 1})
    state["dead"]["match"] += 1
    state["dead2"]["alerts"] += 2
    state["lag"] = [Lag("w.stories", 0, 90, 100), Lag("w.stories", 1, None, 5), Lag("w.matched", 0, 3, None)]
    got = scrape(m)
    assert value(got["wirewatch_stories_consumed"], "wirewatch_stories_consumed_total") == 10
    assert value(got["wirewatch_stories_matched"], "wirewatch_stories_matched_total") == 4
    assert value(got["wirewatch_matches"], "wirewatch_matches_total") == 6
    assert value(got["wirewatch_stories_indexed"], "wirewatch_stories_indexed_total") == 8
    assert value(got["wirewatch_alerts_decided"], "wirewatch_alerts_decided_total", channel="email") == 3
    assert value(got["wirewatch_alerts_sent"], "wirewatch_alerts_sent_total", channel="email") == 2
    assert value(got["wirewatch_alerts_retried"], "wirewatch_alerts_retried_total", channel="slack") == 5
    assert value(got["wirewatch_alerts_parked"], "wirewatch_alerts_parked_total", channel="slack") == 1
    state["gave_way"] = 2.5
    assert value(scrape(m)["wirewatch_alerts_gave_way_seconds"], "wirewatch_alerts_gave_way_seconds_total") == 2.5
    assert value(got["wirewatch_dead_letters"], "wirewatch_dead_letters_total", stage="match") == 1
    assert value(got["wirewatch_dead_letters"], "wirewatch_dead_letters_total", stage="alerts") == 2
    lag = got["wirewatch_consumer_lag_messages"]
    assert value(lag, "wirewatch_consumer_lag_messages", topic="w.stories", partition="0") == 10
    # Nothing committed yet: the whole partition is behind.
    assert value(lag, "wirewatch_consumer_lag_messages", topic="w.stories", partition="1") == 5
    # No end fetched yet: no lag claimed.
    assert not [s for s in lag if s.labels["topic"] == "w.matched"]
    assert value(got["wirewatch_rules_live"], "wirewatch_rules_live") == 3
    assert value(got["wirewatch_rules_version"], "wirewatch_rules_version") == 7
    assert value(got["wirewatch_ready"], "wirewatch_ready") == 1

    # Counters go on from there, as Prometheus expects.
    state["match"].add(consumed=5)
    assert value(scrape(m)["wirewatch_stories_consumed"], "wirewatch_stories_consumed_total") == 15


def test_only_the_busiest_rules_get_a_series_refreshed_now_and_then():
    clock = Clock()
    m, state = worker_metrics(clock)
    state["rules"].update({f"rule-{i}": i for i in range(1, 100_001)})
    top = scrape(m)["wirewatch_rule_matches_top"]
    assert len(top) == TOP_RULES
    assert {s.labels["rule"] for s in top} == {f"rule-{i}" for i in range(100_001 - TOP_RULES, 100_001)}
    state["rules"]["rule-1"] += 10**6
    assert "rule-1" not in {s.labels["rule"] for s in scrape(m)["wirewatch_rule_matches_top"]}
    clock.now += metrics_module.TOP_RULES_EVERY_SECONDS
    top = scrape(m)["wirewatch_rule_matches_top"]
    assert value(top, "wirewatch_rule_matches_top", rule="rule-1") == 10**6 + 1


def test_delays_bulk_latency_refusals_and_stage_time_are_histograms_and_counters():
    from datetime import datetime, timedelta, timezone

    m, _ = worker_metrics()
    now = datetime.now(timezone.utc)
    m.bulk_done(0.2, [(now - timedelta(seconds=3)).isoformat(), None, "not a time"], Counter(retry=2, rejected=1))
    m.alert_sent("email", [(now - timedelta(seconds=40)).isoformat()])

    async def handle(x):
        return x * 2

    assert asyncio.run(m.timed("match", handle)(21)) == 42
    got = scrape(m)
    indexed = got["wirewatch_story_indexed_delay_seconds"]
    assert value(indexed, "wirewatch_story_indexed_delay_seconds_count") == 1
    assert 3 <= value(indexed, "wirewatch_story_indexed_delay_seconds_sum") < 10
    assert value(indexed, "wirewatch_story_indexed_delay_seconds_bucket", le="2.5") == 0
    assert value(indexed, "wirewatch_story_indexed_delay_seconds_bucket", le="5.0") == 1
    alerted = got["wirewatch_story_alerted_delay_seconds"]
    assert value(alerted, "wirewatch_story_alerted_delay_seconds_bucket", channel="email", le="60.0") == 1
    assert value(got["wirewatch_es_bulk_seconds"], "wirewatch_es_bulk_seconds_count") == 1
    refused = got["wirewatch_es_bulk_rejected"]
    assert value(refused, "wirewatch_es_bulk_rejected_total", kind="retry") == 2
    assert value(refused, "wirewatch_es_bulk_rejected_total", kind="rejected") == 1
    assert value(got["wirewatch_stage_busy_seconds"], "wirewatch_stage_busy_seconds_total", stage="match") >= 0


def test_names_follow_the_conventions_and_the_list_is_what_is_exported():
    m, state = worker_metrics()
    state["match"].add(consumed=1)
    state["rules"]["r"] += 1
    state["alerts"][("sent", "email")] += 1
    state["lag"] = [Lag("t", 0, 1, 2)]
    m.alert_sent("email", [])
    asyncio.run(m.timed("index", _noop)())
    exported = set()
    for family in text_string_to_metric_families(m.exposition().decode()):
        exported.add(family.name + ("_total" if family.type == "counter" else ""))
        assert family.documentation, family.name
    assert exported == set(NAMES)
    for name in NAMES:
        assert name.startswith("wirewatch_")
        if name.endswith("_total"):
            assert "seconds" not in name or name.endswith("_seconds_total")


async def _noop() -> None:
    return None


def test_status_gives_the_last_minute_and_the_slowest_stage():
    clock = Clock()
    m, state = worker_metrics(clock)
    state["match"].add(consumed=100, matched=10, matches=12)
    m.tick()
    for _ in range(13):  # a minute and some of snapshots, five seconds apart
        clock.now += metrics_module.TICK_SECONDS
        state["match"].add(consumed=10, matched=1, matches=1)
        m.busy["index"] += 2.0
        m.busy["match"] += 0.5
        m.tick()
    status = m.status()
    assert 60 <= status["recent_seconds"] < 65
    assert status["recent"]["stories"] == 10 * round(status["recent_seconds"] / 5)
    assert status["totals"]["stories"] == 230
    assert status["slowest_stage"] == "index"
    assert status["rules"] == {"live": 3, "version": 7}
    assert status["ready"] is True
