"""The series `wirewatch ingest` serves, from its sources' counters."""

from prometheus_client.parser import text_string_to_metric_families

from producers.ingest.intake import Counters
from producers.ingest.metrics import NAMES, IngestMetrics


class FakeIngest:
    def __init__(self) -> None:
        feed, folder = Counters("feed"), Counters("folder")
        feed.fetched, feed.not_modified, feed.items, feed.new, feed.updated, feed.unchanged = 4, 2, 9, 6, 1, 2
        feed.failure("HTTP 500")
        feed.next_poll = 1_800_000_000.0
        folder.fetched, folder.items, folder.new = 1, 3, 3
        folder.success()
        self.counters = {"wire": feed, "drop": folder}

    def kafka_up(self) -> bool:
        return True

    def status(self) -> dict:
        return {"sources": {name: c.to_dict() for name, c in self.counters.items()}}


def samples() -> dict:
    text = IngestMetrics(FakeIngest()).exposition().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_each_source_counts_by_its_name_and_kind():
    got = samples()
    wire = (("kind", "feed"), ("source", "wire"))
    assert got[("wirewatch_ingest_fetched_total", wire)] == 4
    assert got[("wirewatch_ingest_not_modified_total", wire)] == 2
    assert got[("wirewatch_ingest_failures_total", wire)] == 1
    assert got[("wirewatch_ingest_stories_total", (("kind", "feed"), ("outcome", "updated"), ("source", "wire")))] == 1
    assert got[("wirewatch_ingest_stories_total", (("kind", "folder"), ("outcome", "new"), ("source", "drop")))] == 3
    assert got[("wirewatch_ingest_next_poll_timestamp_seconds", wire)] == 1_800_000_000.0
    # Never succeeded yet: no timestamp rather than a zero that reads as 1970.
    assert ("wirewatch_ingest_last_success_timestamp_seconds", wire) not in got
    assert got[("wirewatch_ingest_kafka_up", ())] == 1


def test_every_name_it_declares_is_served():
    served = {name for name, _ in samples()}
    assert set(NAMES) <= served
