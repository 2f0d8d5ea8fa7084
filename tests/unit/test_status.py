"""`wirewatch status`'s view: lag and rate from Kafka's offsets, the rest from the workers' /status."""

from __future__ import annotations

from rich.console import Console

from wirewatch.cli.status import render
from wirewatch.status import Sample, view

WORKER = {
    "ready": True,
    "totals": {"stories": 500, "dead_letters": 2},
    "recent": {"stories": 120, "matches": 7, "indexed": 118, "alerts_sent": 3},
    "recent_seconds": 61.2,
    "busy_seconds": {"match": 1.5, "index": 9.0},
    "slowest_stage": "index",
    "rules": {"live": 12, "version": 12},
    "partitions": [{"topic": "w.stories", "partition": 0, "committed": 90, "end": 100, "lag": 10}],
}


def test_lag_and_rate_per_partition_from_two_samples_with_the_owner_from_the_workers():
    before = Sample(at=10.0, group="g", offsets={("w.stories", 0): (50, 100), ("w.stories", 1): (None, 40)})
    now = Sample(at=12.0, group="g", offsets={("w.stories", 0): (90, 130), ("w.stories", 1): (None, 60)},
                 workers={"http://a:9464": WORKER, "http://b:9464": {"error": "http://b:9464/status unreachable: refused"}})
    data = view(now, before)
    p0, p1 = data["partitions"]
    assert p0 == {"topic": "w.stories", "partition": 0, "committed": 90, "end": 130, "lag": 40, "worker_lag": 10,
                  "rate_per_s": 20.0, "worker": "http://a:9464"}
    # Never committed: the whole partition is behind, and no rate yet.
    assert p1["lag"] == 60 and p1["rate_per_s"] is None and p1["worker"] is None
    # The worker's own view where it answers (it may have processed past its commit).
    assert data["total_lag"] == 10 + 60
    a, b = data["workers"]
    assert a["last_minute"] == {"stories": 120, "matches": 7, "indexed": 118, "alerts_sent": 3}
    assert a["dead_letters_since_start"] == 2 and a["slowest_stage"] == "index" and a["partitions"] == 1
    assert b == {"url": "http://b:9464", "ok": False, "error": "http://b:9464/status unreachable: refused"}

    console = Console(width=200, record=True)
    console.print(render(data))
    text = console.export_text()
    assert "total lag 70" in text and "index (9.0 s busy)" in text and "unreachable: refused" in text


def test_kafka_unreachable_says_so_and_claims_no_lag():
    now = Sample(at=1.0, group="g", kafka_error="Kafka at 127.0.0.1:1 is not reachable (timeout)")
    data = view(now)
    assert data["kafka"] == {"ok": False, "error": "Kafka at 127.0.0.1:1 is not reachable (timeout)"}
    assert data["total_lag"] is None and data["partitions"] == []
    console = Console(width=200, record=True)
    console.print(render(data))
    text = console.export_text()
    assert "lag unknown" in text and "127.0.0.1:1 is not reachable" in text
