"""The faults users meet, each as a timeline over one `Run`.

Every scenario starts the workers and the producer, waits for the pipeline
to be under way, does its damage, undoes it, and marks when the fault was
cleared; `Run.finish` then waits for everything to come out and counts.
Points in the timeline are reached by polling what the servers hold, never
by sleeping, except where the fault itself is a span of time (an outage of
60 s is 60 s).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .harness import Run

Scenario = Callable[[Run], None]


@dataclass(frozen=True)
class Entry:
    run: Scenario
    describe: str
    needs_own: tuple[str, ...] = ()  # services the scenario crashes or stops


def worker_kill(run: Run) -> None:
    first = run.worker()
    run.wait_ready(first)
    run.produce()
    run.when_indexed(0.3)
    first.kill()  # mid-batch: fetched, partly written, nothing committed
    run.wait_ready(run.worker())
    run.cleared()


def worker_kill_with_peer(run: Run) -> None:
    first, peer = run.worker(), run.worker()
    run.wait_ready(first)
    run.wait_ready(peer)
    run.produce()
    run.when_indexed(0.3)
    first.kill()  # the peer takes its partitions once the group notices
    run.when_indexed(0.6)
    run.wait_ready(run.worker())
    run.cleared()


def broker_crash(run: Run) -> None:
    worker = run.worker()
    run.wait_ready(worker)
    run.produce()
    run.when_indexed(0.3)
    run.stack.crash("kafka")
    # Down long enough that producer and worker both see it: requests time out, connections are refused.
    time.sleep(10)
    run.stack.start("kafka")
    run.cleared()


def es_down(run: Run, outage: float = 60.0) -> None:
    worker = run.worker()
    run.wait_ready(worker)
    run.produce()
    run.when_indexed(0.3)
    run.stack.stop("elasticsearch")
    time.sleep(outage)
    run.stack.start("elasticsearch")
    run.cleared()


def mail_down(run: Run, outage: float = 300.0) -> None:
    run.smtp.stop()
    worker = run.worker()
    run.wait_ready(worker)
    run.produce()
    began = time.monotonic()
    run.when_indexed(0.5)
    # A worker restart in the middle: what it was retrying must be picked up by the next one.
    worker.kill()
    run.wait_ready(run.worker())
    time.sleep(max(0.0, outage - (time.monotonic() - began)))
    run.smtp.start()
    run.cleared()


def slack_misbehaving(run: Run) -> None:
    for rule in ("oil", "trade", "gold", "coffee", "rates", "japan"):
        path = f"/services/T/B/{rule}"
        run.slack.reply(path, (429, "rate_limited", {"Retry-After": "3"}))
        run.slack.reply(path, *[(500, "internal_error", {})] * 4)
    worker = run.worker()
    run.wait_ready(worker)
    run.produce()
    run.wait(lambda: len(run.slack.posted()) >= 6 * 6, 300, "every canned failure answered")
    run.cleared()


def malformed_messages(n: int, seed: int = 1987) -> list[tuple[bytes | None, bytes]]:
    """n bad messages of many kinds, as broken producers and hand-typed tests send them."""
    rnd = random.Random(seed)
    kinds: list[Callable[[int], tuple[bytes | None, bytes]]] = [
        lambda i: (f"bad-{i}".encode(), b"not json at all"),
        lambda i: (f"bad-{i}".encode(), b'{"id": "x", "title": "cut off'),
        lambda i: (f"bad-{i}".encode(), b"[1, 2, 3]"),
        lambda i: (f"bad-{i}".encode(), b"null"),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": f"bad-{i}", "title": "no source"}).encode()),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": "", "source": "Wire"}).encode()),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": f"bad-{i}", "source": "Wire", "version": -3}).encode()),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": f"bad-{i}", "source": "Wire", "urgency": 99}).encode()),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": f"bad-{i}", "source": "Wire", "published": "yesterday"}).encode()),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": 7, "source": ["Wire"]}).encode()),
        lambda i: (f"bad-{i}".encode(), bytes(rnd.randrange(256) for _ in range(64))),
        lambda i: (None, "\u00e9t\u00e9 latin-1 ".encode("latin-1") * 3),
        lambda i: (f"bad-{i}".encode(), json.dumps({"id": f"bad-{i}", "source": "Wire", "body": {"nested": True}}).encode()),
        lambda i: (f"bad-{i}".encode(), b'{"id": "dup", "id": 5, "source": "Wire"}'),
    ]
    return [kinds[i % len(kinds)](i) for i in range(n)]


def bad_input(run: Run, n: int = 10_000) -> None:
    worker = run.worker()
    run.wait_ready(worker)
    run.produce()
    run.when_indexed(0.2)
    run.malformed = n
    run.send_raw(malformed_messages(n), parked_at="match")
    run.cleared()


def rebalance(run: Run) -> None:
    first = run.worker()
    run.wait_ready(first)
    run.produce()
    run.when_indexed(0.2)
    second = run.worker()
    run.wait_ready(second)
    run.when_indexed(0.6)
    code = second.stop()  # Ctrl-C: it leaves the group, its partitions go back to the first
    if code:
        run.notes.append(f"the leaving worker exited with status {code}")
    run.cleared()


def refused_document(run: Run) -> None:
    from wirewatch.model import Story

    worker = run.worker()
    run.wait_ready(worker)
    run.produce()
    run.when_indexed(0.3)
    # A `source` longer than a keyword term may be (32766 bytes): a valid story that the
    # mapping refuses for good, as a story too big for the cluster would be.
    story = Story(id="refused-1", source="W" * 40_000, title="refused", body="nothing to match")
    run.stories.append(story)
    run.refused.add(story.id)
    run.send_raw([(story.id.encode(), story.to_json())], parked_at="index")
    run.cleared()


SCENARIOS: dict[str, Entry] = {
    "worker-kill": Entry(worker_kill, "a worker SIGKILLed mid-batch, then started again"),
    "worker-kill-peer": Entry(worker_kill_with_peer, "one of two workers SIGKILLed mid-batch, then a new one"),
    "broker-crash": Entry(broker_crash, "Kafka SIGKILLed mid-replay, back after 10 s", ("kafka",)),
    "es-down": Entry(es_down, "Elasticsearch stopped for 60 s mid-replay", ("elasticsearch",)),
    "mail-down": Entry(mail_down, "SMTP server down 5 min, a worker SIGKILLed and restarted in between"),
    "slack-misbehaving": Entry(slack_misbehaving, "Slack answers 429 (Retry-After 3), then 500 four times, then OK"),
    "bad-input": Entry(bad_input, "10,000 malformed messages of 14 kinds mixed into the replay"),
    "rebalance": Entry(rebalance, "a second worker joins under load, then leaves (Ctrl-C)"),
    "refused-document": Entry(refused_document, "Elasticsearch refuses one story for good (mapping)"),
}
