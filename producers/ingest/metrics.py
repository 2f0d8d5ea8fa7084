"""What `wirewatch ingest` serves on its metrics port: each source's counters as Prometheus series.

The counters are the ones `--status` and the log show (producers.ingest.intake.Counters),
read when scraped: nothing is counted twice over.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

# Counters of a source: (attribute, series name without `_total`, help).
_COUNTS = (
    ("fetched", "wirewatch_ingest_fetched", "Feed responses, files and POSTs a source took in."),
    ("not_modified", "wirewatch_ingest_not_modified", "Feed polls answered 304 Not Modified."),
    ("items", "wirewatch_ingest_items", "Items (stories, feed entries) read from what was taken in."),
    ("failed", "wirewatch_ingest_failures", "Fetches, files, POSTs or items that failed (see the log and --status)."),
)
# What became of the items that were read: the label `outcome` of wirewatch_ingest_stories_total.
_OUTCOMES = ("new", "updated", "unchanged", "stale")
NAMES = (
    *(name + "_total" for _, name, _ in _COUNTS),
    "wirewatch_ingest_stories_total",
    "wirewatch_ingest_last_success_timestamp_seconds",
    "wirewatch_ingest_next_poll_timestamp_seconds",
    "wirewatch_ingest_kafka_up",
)


class IngestMetrics:
    """The series and status of one ingest process (`ingest`: a producers.ingest.runner.Ingest)."""

    def __init__(self, ingest: Any) -> None:
        self.ingest = ingest
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Collector(ingest))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def status(self) -> dict[str, Any]:
        return self.ingest.status()


class _Collector(Collector):
    def __init__(self, ingest: Any) -> None:
        self.ingest = ingest

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        counters = self.ingest.counters
        labels = ["source", "kind"]
        for attribute, name, help_ in _COUNTS:
            family = CounterMetricFamily(name, help_, labels=labels)
            for source, c in counters.items():
                family.add_metric([source, c.kind], getattr(c, attribute))
            yield family
        stories = CounterMetricFamily("wirewatch_ingest_stories",
                                      "Items read, by what became of them: sent as new stories or new versions, "
                                      "or not sent (unchanged, or older than a version already sent).",
                                      labels=[*labels, "outcome"])
        for source, c in counters.items():
            for outcome in _OUTCOMES:
                stories.add_metric([source, c.kind, outcome], getattr(c, outcome))
        yield stories
        last = GaugeMetricFamily("wirewatch_ingest_last_success_timestamp_seconds",
                                 "When a source last took something in without error (Unix time).", labels=labels)
        nxt = GaugeMetricFamily("wirewatch_ingest_next_poll_timestamp_seconds",
                                "When a feed or folder is looked at next (Unix time).", labels=labels)
        for source, c in counters.items():
            if c.last_success is not None:
                last.add_metric([source, c.kind], c.last_success)
            if c.next_poll is not None:
                nxt.add_metric([source, c.kind], c.next_poll)
        yield last
        yield nxt
        yield GaugeMetricFamily("wirewatch_ingest_kafka_up", "1 while ingest has a working producer to Kafka.",
                                value=1 if self.ingest.kafka_up() else 0)
