"""What `wirewatch status` shows: Kafka's own view of the group, and each worker's.

Lag comes from the offsets the group has committed in Kafka against the
partitions' ends, so it is known even for a worker that is down.  A
running worker also says how far it has processed: after Faust skipped
messages that the stage then read back itself (wirewatch.pipeline.progress),
Faust's commit stays behind them until the partition is assigned again,
and only the worker knows they are done.  The total lag counts a
partition's worker lag where its worker answers, the committed lag elsewhere.  The
rest (the last minute's stories, matches and alerts, dead letters, the
slowest stage, which worker holds which partition) from each worker's
/status on its metrics port.  Gathering talks to servers; `view` is pure.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from .errors import ServiceUnavailable
from .settings import Settings

ENDPOINT_TIMEOUT_SECONDS = 3.0


@dataclass
class Sample:
    """One look at Kafka and the workers, at `at` (monotonic seconds)."""

    at: float
    group: str
    offsets: dict[tuple[str, int], tuple[int | None, int]] = field(default_factory=dict)  # (committed, end)
    kafka_error: str | None = None
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # url -> /status, or {"error": ...}


def pipeline_topics(settings: Settings) -> list[str]:
    return [settings.stories_topic, settings.matched_topic, settings.matches_topic, settings.alerts_topic,
            settings.alerts_ticks_topic]


def kafka_offsets(settings: Settings, group: str) -> dict[tuple[str, int], tuple[int | None, int]]:
    """(committed, end) per partition of the pipeline's topics, from the group's offsets in Kafka."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    from . import kafka_clients

    admin = kafka_clients.admin(settings, client_id="wirewatch-status", request_timeout_ms=10_000)
    consumer = None
    try:
        try:
            groups = admin.list_group_offsets({group: None})
            committed = {(tp.topic, tp.partition): meta.offset for tp, meta in groups.get(group, {}).items()}
            consumer = kafka_clients.consumer(settings, client_id="wirewatch-status")
            tps = [TopicPartition(topic, p) for topic in pipeline_topics(settings)
                   for p in sorted(consumer.partitions_for_topic(topic) or ())]
            ends = consumer.end_offsets(tps) if tps else {}
        except KafkaError as exc:
            raise ServiceUnavailable(f"Kafka at {settings.kafka_bootstrap}: {exc}") from exc
    finally:
        admin.close()
        if consumer is not None:
            consumer.close()
    out: dict[tuple[str, int], tuple[int | None, int]] = {}
    for tp, end in ends.items():
        got = committed.get((tp.topic, tp.partition))
        out[(tp.topic, tp.partition)] = (got if got is not None and got >= 0 else None, end)
    return out


def worker_status(url: str) -> dict[str, Any]:
    """A worker's /status, or {"error": why not}."""
    target = url.rstrip("/") + "/status"
    try:
        with urllib.request.urlopen(target, timeout=ENDPOINT_TIMEOUT_SECONDS) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return {"error": f"{target}: HTTP {exc.code}"}
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"error": f"{target} unreachable: {reason}"}
    except ValueError as exc:
        return {"error": f"{target}: not a WireWatch /status answer ({exc})"}


def sample(settings: Settings, group: str, urls: list[str]) -> Sample:
    s = Sample(at=time.monotonic(), group=group)
    try:
        s.offsets = kafka_offsets(settings, group)
    except ServiceUnavailable as exc:
        s.kafka_error = str(exc)
    s.workers = {url: worker_status(url) for url in urls}
    return s


def view(now: Sample, before: Sample | None = None) -> dict[str, Any]:
    """The status as data (what --json prints, and the tables are drawn from)."""
    owners: dict[tuple[str, int], tuple[str, int | None]] = {}
    for url, status in now.workers.items():
        for p in status.get("partitions", ()):
            owners[(p["topic"], p["partition"])] = (url, p.get("lag"))
    seconds = now.at - before.at if before is not None else 0.0
    partitions = []
    for (topic, partition), (committed, end) in sorted(now.offsets.items()):
        rate = None
        if before is not None and seconds > 0 and (topic, partition) in before.offsets:
            then = before.offsets[(topic, partition)][0]
            if committed is not None and then is not None:
                rate = round((committed - then) / seconds, 1)
        worker, worker_lag = owners.get((topic, partition), (None, None))
        partitions.append({
            "topic": topic, "partition": partition, "committed": committed, "end": end,
            "lag": end - (committed or 0), "worker_lag": worker_lag, "rate_per_s": rate, "worker": worker,
        })
    workers = []
    for url, status in now.workers.items():
        if "error" in status:
            workers.append({"url": url, "ok": False, "error": status["error"]})
            continue
        totals, recent = status.get("totals", {}), status.get("recent", {})
        workers.append({
            "url": url, "ok": True, "ready": status.get("ready"),
            "last_minute": {k: recent.get(k, 0) for k in ("stories", "matches", "indexed", "alerts_sent")},
            "last_minute_seconds": status.get("recent_seconds"),
            "dead_letters_since_start": totals.get("dead_letters", 0),
            "slowest_stage": status.get("slowest_stage"),
            "busy_seconds_last_minute": status.get("busy_seconds", {}),
            "rules": status.get("rules"),
            "partitions": len(status.get("partitions", ())),
        })
    return {
        "group": now.group,
        "kafka": {"ok": now.kafka_error is None, "error": now.kafka_error},
        "rate_seconds": round(seconds, 1) if before is not None else None,
        "total_lag": (sum(p["lag"] if p["worker_lag"] is None else p["worker_lag"] for p in partitions)
                      if now.kafka_error is None else None),
        "partitions": partitions,
        "workers": workers,
    }
