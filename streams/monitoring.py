"""Wire a worker's metrics and health endpoint to its Faust app, stages and clients.

The stages keep their own counts; this module only tells `Metrics` where
they are, and answers /readyz from what the app knows (see
`wirewatch.pipeline.endpoint`).  Off when WIREWATCH_METRICS_PORT is 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from wirewatch.pipeline.endpoint import Endpoint, Readiness, cached
from wirewatch.pipeline.metrics import TICK_SECONDS, Lag, Metrics
from wirewatch.pipeline.progress import GapGuard
from wirewatch.settings import Settings

from .live_rules import LiveRules

log = logging.getLogger("wirewatch.monitoring")

# How often /readyz asks Elasticsearch whether it is there.
ES_CHECK_SECONDS = 5.0


def install(app: Any, settings: Settings, metrics: Metrics, rules: LiveRules, es: Any,
            guards: dict[str, GapGuard] | None = None) -> Endpoint:
    """Serve `metrics` and the health checks on the worker's event loop (WIREWATCH_METRICS_PORT, not 0).

    `guards`: each topic's progress record (what its stage processed), which
    counts as done where Faust's commit stays behind it.
    """
    topics = {settings.stories_topic, settings.matched_topic, settings.matches_topic, settings.alerts_topic,
              settings.alerts_ticks_topic}
    metrics.sources.lag = lambda: consumer_lag(app, topics, guards or {})
    metrics.sources.rules = lambda: (len(rules.rules), rules.version)

    async def es_up() -> tuple[bool, str]:
        # Not a ping: HEAD / may be refused by a proxy in front of the cluster.
        try:
            health = await asyncio.wait_for(es.cluster.health(), timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - unreachable is an answer
            return False, f"{settings.es_url}: {type(exc).__name__}: {exc}"
        status = health.get("status")
        return status in ("green", "yellow"), f"{settings.es_url}: cluster {status}"

    readiness = Readiness({
        "kafka": lambda: _ready(kafka_connected(app), settings.kafka_bootstrap, "no connection to a broker"),
        "partitions": lambda: _ready(*partitions_assigned(app, topics)),
        "elasticsearch": cached(es_up, ES_CHECK_SECONDS),
        "rules": lambda: _ready(rules.ready.is_set(), f"{len(rules.rules)} rules", "loading rules"),
    })
    metrics.sources.ready = lambda: readiness.last
    endpoint = Endpoint(metrics, readiness, settings.metrics_host, settings.metrics_port)

    # A task starts with the app, before the group is joined: /readyz says "not yet" meanwhile.
    @app.task
    async def serve_metrics() -> None:
        await endpoint.start()

    @app.timer(TICK_SECONDS, name="wirewatch.metrics-window")
    async def window() -> None:
        metrics.tick()

    @app.on_before_shutdown.connect
    async def _stop(_app, **kwargs) -> None:
        await endpoint.stop()

    return endpoint


async def _ready(ok: bool, detail: str, otherwise: str | None = None) -> tuple[bool, str]:
    return ok, detail if ok or otherwise is None else otherwise


def consumer_lag(app: Any, topics: set[str], guards: dict[str, GapGuard]) -> Iterator[Lag]:
    """Per assigned partition of the pipeline's topics: the offset committed, the next to process, the end Kafka last reported."""
    consumer = getattr(app, "_consumer", None)  # not created yet: nothing assigned
    if consumer is None:
        return
    try:
        assigned = consumer.assignment()
    except Exception:  # noqa: BLE001 - not started yet
        return
    committed = getattr(consumer, "_committed_offset", {})
    for tp in sorted(assigned):
        if tp.topic not in topics:
            continue
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - not fetched yet
            end = None
        guard = guards.get(tp.topic)
        seen = guard.last(tp.topic, tp.partition) if guard is not None else None
        yield Lag(tp.topic, tp.partition, committed.get(tp), end, seen["o"] + 1 if seen else None)


def partitions_assigned(app: Any, topics: set[str]) -> tuple[bool, str]:
    if getattr(app, "rebalancing", False):
        return False, "rebalancing"
    consumer = getattr(app, "_consumer", None)
    mine = sorted(f"{tp.topic}[{tp.partition}]" for tp in (consumer.assignment() if consumer else ()) if tp.topic in topics)
    if not mine:
        return False, "no partitions assigned"
    recovery = getattr(getattr(app, "tables", None), "recovery", None)
    if recovery is not None and not recovery.completed.is_set():
        return False, "recovering tables"
    return True, f"{len(mine)} partitions"


def kafka_connected(app: Any) -> bool:
    """A connection to a broker is open (the consumer's client; Faust keeps it in a thread object)."""
    consumer = getattr(app, "_consumer", None)
    try:
        client = consumer._thread._consumer._client  # aiokafka's
        return any(conn.connected() for conn in client._conns.values())
    except AttributeError:
        return False
