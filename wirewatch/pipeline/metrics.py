"""A worker's Prometheus metrics: what its stages counted, read when scraped.

The stages count in plain Python (`Counters`, ints, `collections.Counter`)
as they always have; this module turns those counts into Prometheus
series only when someone scrapes, so the hot path pays nothing for it.
Only what must be observed as it happens (delays, bulk latency, stage
time) is recorded here directly, once per batch or per story indexed.

Nothing here imports Faust or Kafka: the worker hands in functions that
read its consumer (see `streams.worker`).
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .counters import Counters

# Rules whose match counts get a series of their own: enough to see which
# rules are busy, few enough that 100,000 rules are still 20 series.
TOP_RULES = 20
TOP_RULES_EVERY_SECONDS = 30.0
# The last minute of /status is kept as snapshots this far apart.
WINDOW_SECONDS = 60.0
TICK_SECONDS = 5.0

DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
BULK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Every series name this module exports (the Grafana dashboard may use only these).
NAMES = (
    "wirewatch_stories_consumed_total",
    "wirewatch_stories_matched_total",
    "wirewatch_matches_total",
    "wirewatch_stories_indexed_total",
    "wirewatch_stories_stale_total",
    "wirewatch_rule_matches_top",
    "wirewatch_alerts_decided_total",
    "wirewatch_alerts_sent_total",
    "wirewatch_alerts_retried_total",
    "wirewatch_alerts_parked_total",
    "wirewatch_alerts_gave_way_seconds_total",
    "wirewatch_dead_letters_total",
    "wirewatch_consumer_lag_messages",
    "wirewatch_consumer_committed_offset",
    "wirewatch_partition_end_offset",
    "wirewatch_story_indexed_delay_seconds",
    "wirewatch_story_alerted_delay_seconds",
    "wirewatch_es_bulk_seconds",
    "wirewatch_es_bulk_rejected_total",
    "wirewatch_stage_busy_seconds_total",
    "wirewatch_rules_live",
    "wirewatch_rules_version",
    "wirewatch_ready",
)


@dataclass
class Lag:
    """Where a worker is in one partition: committed to Kafka, processed (next offset), and the end."""

    topic: str
    partition: int
    committed: int | None
    end: int | None
    processed: int | None = None

    @property
    def lag(self) -> int | None:
        # Faust's commit can stay behind messages the stage read back itself
        # (see wirewatch.pipeline.progress): what is processed is done too.
        if self.end is None:
            return None
        return max(self.end - max(self.committed or 0, self.processed or 0), 0)


@dataclass
class Sources:
    """Where the counts live; the worker fills these in as it wires the stages."""

    match: Counters | None = None  # stories, matched, matches, consumed
    indexed: Callable[[], tuple[int, int]] | None = None  # (indexed, stale)
    rule_matches: Counter[str] | None = None
    alerts_by_channel: Counter[tuple[str, str]] | None = None  # (event, channel)
    alerts_gave_way: Callable[[], float] | None = None  # seconds the alert stage waited for a backlog
    dead_letters: list[Counter[str]] = field(default_factory=list)  # by stage
    lag: Callable[[], Iterable[Lag]] | None = None
    rules: Callable[[], tuple[int, int]] | None = None  # (live rules, version)
    ready: Callable[[], bool] | None = None


class Metrics:
    """The registry of one worker, and the few things observed as they happen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # `_created` series double every histogram's families and no dashboard needs them.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.sources = Sources()
        self.indexed_delay = Histogram(
            "wirewatch_story_indexed_delay_seconds", "From a story's received time to its bulk request being accepted.",
            buckets=DELAY_BUCKETS, registry=self.registry)
        self.alerted_delay = Histogram(
            "wirewatch_story_alerted_delay_seconds", "From a story's received time to an alert about it being sent.",
            ["channel"], buckets=DELAY_BUCKETS, registry=self.registry)
        self.bulk_seconds = Histogram(
            "wirewatch_es_bulk_seconds", "Round trip of one Elasticsearch bulk request.", buckets=BULK_BUCKETS,
            registry=self.registry)
        self.bulk_refused: Counter[str] = Counter()
        self.busy: Counter[str] = Counter()
        self._top: list[tuple[str, int]] = []
        self._top_at = float("-inf")
        self._window: deque[tuple[float, dict[str, float]]] = deque()
        self.registry.register(_Collector(self))

    # -------------------------------------------------- observed as it happens

    def timed(self, stage: str, handle: Callable[..., Any]) -> Callable[..., Any]:
        """`handle` (a stage's coroutine for a batch) with its time added to the stage's busy seconds."""
        busy, clock = self.busy, time.perf_counter

        async def timed_handle(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return await handle(*args, **kwargs)
            finally:
                busy[stage] += clock() - started

        return timed_handle

    def bulk_done(self, seconds: float, received: list[str | None], refused: Counter[str]) -> None:
        """One bulk request answered: its latency, the received times of the stories it indexed, what it refused."""
        self.bulk_seconds.observe(seconds)
        if refused:
            self.bulk_refused.update(refused)
        now = time.time()
        observe = self.indexed_delay.observe
        for stamp in received:
            delay = _age(stamp, now)
            if delay is not None:
                observe(delay)

    def alert_sent(self, channel: str, received: Iterable[str | None]) -> None:
        now = time.time()
        child = self.alerted_delay.labels(channel)
        for stamp in received:
            delay = _age(stamp, now)
            if delay is not None:
                child.observe(delay)

    # -------------------------------------------------- read when scraped

    def top_rules(self) -> list[tuple[str, int]]:
        counts = self.sources.rule_matches
        if counts is None:
            return []
        now = self.clock()
        # Finding the top among 100,000 rules takes milliseconds: not at every scrape.
        if now - self._top_at >= TOP_RULES_EVERY_SECONDS:
            self._top = heapq.nlargest(TOP_RULES, counts.items(), key=lambda kv: kv[1])
            self._top_at = now
        return self._top

    def totals(self) -> dict[str, float]:
        """The counts /status works out the last minute from."""
        s = self.sources
        match = s.match.totals if s.match else Counter()
        alerts: Counter[str] = Counter()
        for (event, _channel), n in (s.alerts_by_channel or {}).items():
            alerts[event] += n
        dead = sum(sum(c.values()) for c in s.dead_letters)
        out: dict[str, float] = {
            "stories": match.get("consumed", 0),
            "matched": match.get("matched", 0),
            "matches": match.get("matches", 0),
            "indexed": s.indexed()[0] if s.indexed else 0,
            "alerts_decided": alerts.get("decided", 0),
            "alerts_sent": alerts.get("sent", 0),
            "dead_letters": dead,
        }
        for stage, seconds in self.busy.items():
            out[f"busy:{stage}"] = seconds
        return out

    def tick(self) -> None:
        """Keep a snapshot of the totals (called every TICK_SECONDS) for the last minute of /status."""
        now = self.clock()
        self._window.append((now, self.totals()))
        while len(self._window) > 2 and now - self._window[1][0] >= WINDOW_SECONDS:
            self._window.popleft()

    def status(self) -> dict[str, Any]:
        """What `wirewatch status` shows of this worker: totals, the last minute, partitions and lag."""
        now, totals = self.clock(), self.totals()
        then, before = self._window[0] if self._window else (now, totals)
        seconds = max(now - then, 0.0)
        recent = {k: v - before.get(k, 0) for k, v in totals.items()}
        busy = {k.split(":", 1)[1]: v for k, v in recent.items() if k.startswith("busy:")}
        slowest = max(busy, key=busy.__getitem__) if busy and max(busy.values()) > 0 else None
        lags = list(self.sources.lag()) if self.sources.lag else []
        rules = self.sources.rules() if self.sources.rules else (0, 0)
        return {
            "ready": bool(self.sources.ready()) if self.sources.ready else None,
            "totals": {k: v for k, v in totals.items() if not k.startswith("busy:")},
            "recent_seconds": round(seconds, 1),
            "recent": {k: v for k, v in recent.items() if not k.startswith("busy:")},
            "busy_seconds": {k: round(v, 3) for k, v in busy.items()},
            "slowest_stage": slowest,
            "rules": {"live": rules[0], "version": rules[1]},
            "partitions": [
                {"topic": g.topic, "partition": g.partition, "committed": g.committed, "processed": g.processed,
                 "end": g.end, "lag": g.lag}
                for g in lags
            ],
        }

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _age(stamp: str | None, now: float) -> float | None:
    if not stamp:
        return None
    try:
        return max(now - datetime.fromisoformat(stamp).timestamp(), 0.0)
    except (TypeError, ValueError):
        return None


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        m, s = self.m, self.m.sources
        match = s.match.totals if s.match else Counter()
        yield _counter("wirewatch_stories_consumed", "Stories the match stage took from the stories topic.", match.get("consumed", 0))
        yield _counter("wirewatch_stories_matched", "Stories that matched at least one rule.", match.get("matched", 0))
        yield _counter("wirewatch_matches", "Rule matches (a story matching three rules counts three).", match.get("matches", 0))
        indexed, stale = s.indexed() if s.indexed else (0, 0)
        yield _counter("wirewatch_stories_indexed", "Stories Elasticsearch accepted.", indexed)
        yield _counter("wirewatch_stories_stale", "Stories not written again: that version or a newer one was indexed.", stale)

        top = GaugeMetricFamily("wirewatch_rule_matches_top",
                                f"Matches since start of the {TOP_RULES} busiest rules (refreshed every {TOP_RULES_EVERY_SECONDS:.0f} s).",
                                labels=["rule"])
        for rule, n in m.top_rules():
            top.add_metric([rule], n)
        yield top

        by_event = {event: CounterMetricFamily(f"wirewatch_alerts_{event}", help_, labels=["channel"])
                    for event, help_ in (("decided", "Alerts decided (instant, digest, flood summary)."),
                                         ("sent", "Alerts delivered."),
                                         ("retried", "Delivery attempts that failed and were tried again."),
                                         ("parked", "Alerts given up on and parked on the dead-letter topic."))}
        for (event, channel), n in sorted((s.alerts_by_channel or {}).items()):
            if event in by_event:
                by_event[event].add_metric([channel], n)
        yield from by_event.values()
        yield _counter("wirewatch_alerts_gave_way_seconds",
                       "Time the alert stage held back while matching or indexing had a backlog (WIREWATCH_ALERTS_SHARE_WHEN_BEHIND).",
                       s.alerts_gave_way() if s.alerts_gave_way else 0.0)

        dead = CounterMetricFamily("wirewatch_dead_letters", "Messages parked on the dead-letter topic.", labels=["stage"])
        stages: Counter[str] = Counter()
        for c in s.dead_letters:
            stages.update(c)
        for stage, n in sorted(stages.items()):
            dead.add_metric([stage], n)
        yield dead

        lag = GaugeMetricFamily("wirewatch_consumer_lag_messages", "Messages of a partition this worker has neither processed nor committed.",
                                labels=["topic", "partition"])
        committed = GaugeMetricFamily("wirewatch_consumer_committed_offset", "Offset this worker last committed.",
                                      labels=["topic", "partition"])
        end = GaugeMetricFamily("wirewatch_partition_end_offset", "End of the partition (high watermark) as last fetched.",
                                labels=["topic", "partition"])
        for g in (s.lag() if s.lag else ()):
            labels = [g.topic, str(g.partition)]
            if g.lag is not None:
                lag.add_metric(labels, g.lag)
                end.add_metric(labels, g.end)
            if g.committed is not None:
                committed.add_metric(labels, g.committed)
        yield lag
        yield committed
        yield end

        refused = CounterMetricFamily("wirewatch_es_bulk_rejected", "Bulk items Elasticsearch refused: retry (429, 5xx) or rejected (parked).",
                                      labels=["kind"])
        for kind in ("retry", "rejected"):
            refused.add_metric([kind], m.bulk_refused.get(kind, 0))
        yield refused

        busy = CounterMetricFamily("wirewatch_stage_busy_seconds", "Time each stage spent handling batches.", labels=["stage"])
        for stage, seconds in sorted(m.busy.items()):
            busy.add_metric([stage], seconds)
        yield busy

        live, version = s.rules() if s.rules else (0, 0)
        yield GaugeMetricFamily("wirewatch_rules_live", "Rules this worker matches with.", value=live)
        yield GaugeMetricFamily("wirewatch_rules_version", "Rule changes read from the rules topic (sum of its offsets): equal on workers that are up to date.", value=version)
        if s.ready is not None:
            yield GaugeMetricFamily("wirewatch_ready", "1 when /readyz says ready.", value=1 if s.ready() else 0)


def _counter(name: str, help_: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_, value=value)
