"""What the worker's metrics cost per story and per scrape, in-process (no servers).

    .venv/bin/python benchmarks/metrics_cost.py

The pipeline benchmark (`pipeline_bench.py --metrics on,off`) measures the
cost inside a running worker, where other work on the machine moves the
figures by more than the cost itself; this times the same calls alone:
per bulk request of 500 stories (the delay histogram, bulk latency), per
matched story (the per-rule counter), per batch (the stage timer), and one
scrape of a worker with 100,000 rules counted and 10 partitions.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wirewatch.pipeline.counters import Counters  # noqa: E402
from wirewatch.pipeline.metrics import Lag, Metrics  # noqa: E402


def per_call(fn, n: int) -> float:
    """Best of five: seconds per call."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main() -> None:
    m = Metrics()
    counts = Counters("match", logging.getLogger("bench"))
    rules: Counter[str] = Counter({f"rule-{i}": i % 97 for i in range(100_000)})
    s = m.sources
    s.match, s.rule_matches = counts, rules
    s.indexed = lambda: (1, 0)
    s.alerts_by_channel = Counter({("sent", "email"): 3, ("decided", "email"): 3, ("sent", "slack"): 2})
    s.dead_letters = [Counter(match=1)]
    s.lag = lambda: [Lag(f"w.{t}", p, 100, 120, 110) for t in ("stories", "matched", "matches", "alerts", "ticks") for p in (0, 1)]
    s.rules = lambda: (100_000, 100_000)
    s.ready = lambda: True

    now = datetime.now(timezone.utc)
    received = [(now - timedelta(seconds=i % 30)).isoformat() for i in range(500)]
    bulk = per_call(lambda: m.bulk_done(0.05, received, Counter()), 200) / 500
    matched_rules = ["rule-1", "rule-2"]
    per_rule = per_call(lambda: rules.update(matched_rules), 100_000)

    async def handle() -> None:
        return None

    timed = m.timed("match", handle)

    async def batches(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            await timed()
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(n):
            await handle()
        return (plain - (time.perf_counter() - t0)) / n

    batch = asyncio.run(batches(100_000))
    m.top_rules()  # the top-20 is worked out at most every 30 s, apart from the scrape
    scrape = per_call(m.exposition, 200)
    top = per_call(lambda: (setattr(m, "_top_at", float("-inf")), m.top_rules()), 5)

    print("| what | cost |")
    print("| --- | --- |")
    print(f"| per story indexed (delay histogram, share of bulk latency) | {bulk * 1e6:.2f} µs |")
    print(f"| per matched story (per-rule counter, 2 rules) | {per_rule * 1e6:.2f} µs |")
    print(f"| per batch (stage timer) | {batch * 1e6:.2f} µs |")
    print(f"| one scrape (10 partitions, cached top rules) | {scrape * 1e3:.2f} ms |")
    print(f"| top 20 of 100,000 rules (every 30 s at most) | {top * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
