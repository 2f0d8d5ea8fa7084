"""Bootstrap of a worker: settings in, a running Faust worker out.

This is the one place that builds clients and wires stages together.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from alerts.rulebook import RuleBook
from alerts.stage import install as install_alerts
from wirewatch import topics as topic_admin
from wirewatch.pipeline.deadletter import DeadLetters
from wirewatch.pipeline.faust_app import create_app, worker
from wirewatch.pipeline.metrics import Metrics
from wirewatch.pipeline.progress import GapGuard, faust_gaps
from wirewatch.pipeline.publish import Publisher
from wirewatch.pipeline.tables import by_suffix, keyed_table
from wirewatch.settings import Settings

from . import elastic, monitoring
from .agents import IndexStage, MatchStage, install_indexing, install_matching, install_rules, install_tail_check
from .app import declare_topics
from .live_rules import LiveRules

log = logging.getLogger("wirewatch.worker")


def build(settings: Settings):
    """Create the app with every stage installed; opens no connection yet."""
    app = create_app(settings)
    topics = declare_topics(app, settings)
    dead = DeadLetters(topics.deadletter)

    async def rule_problem(exc, message) -> None:
        await dead.park("rules", exc, message)

    rules = LiveRules(settings, on_problem=rule_problem)
    es = elastic.async_client(settings)
    progress = keyed_table(app, "wirewatch-progress", settings.partitions, by_suffix)
    book = live_rulebook(rules)
    gaps = faust_gaps(app)
    match_stage = MatchStage(topics, Publisher(app), rules, dead,
                             GapGuard(progress, settings.kafka_bootstrap, stage="match", on_read_back=gaps),
                             subscribed=book.subscribed, partitions=settings.partitions,
                             batch_max=settings.index_batch)
    index_stage = IndexStage(settings, es, dead, GapGuard(progress, settings.kafka_bootstrap, stage="index", on_read_back=gaps))
    install_rules(app, rules)
    install_matching(app, topics, settings, match_stage)
    install_indexing(app, topics, settings, index_stage)
    install_tail_check(app, {settings.stories_topic: match_stage, settings.matched_topic: index_stage})
    behind = falling_behind(app, settings, match_stage.guard, index_stage)
    alert_stage = install_alerts(app, settings, rules=lambda: book, ready=rules.ready.wait, behind=behind)
    if settings.metrics_port:
        observe(app, settings, Metrics(), rules, es, dead, match_stage, index_stage, alert_stage)

    @app.on_before_shutdown.connect
    async def _close(_app, **kwargs) -> None:
        await es.close()
        await match_stage.guard.close()
        await index_stage.guard.close()

    return app


def falling_behind(app, settings: Settings, match_guard: GapGuard, index_stage: IndexStage) -> Callable[[], bool]:
    """Whether this worker's matching or indexing has a backlog.

    Matching: more stories waiting on the partitions it holds than one bulk
    request takes.  Indexing: it is writing a take of a full bulk request
    or more (or just wrote one).  A live wire the worker keeps up with is
    neither, unless a bulk request's worth of stories arrives while one
    take is written and the next gathered (by default, from roughly 1,000
    to 2,000 stories a second, with how long Elasticsearch takes).
    """
    stories = settings.stories_topic

    def behind() -> bool:
        if time.monotonic() < index_stage.behind_until:
            return True
        waiting = sum(lag.lag or 0 for lag in monitoring.consumer_lag(app, {stories}, {stories: match_guard}))
        return waiting > settings.index_batch

    return behind


def observe(app, settings: Settings, metrics: Metrics, rules: LiveRules, es, dead: DeadLetters,
            match_stage: MatchStage, index_stage: IndexStage, alert_stage) -> Metrics:
    """Tell the metrics where each stage keeps its counts, and time each stage's batches.

    Not called when WIREWATCH_METRICS_PORT is 0: the stages then do no work for metrics at all.
    """
    s = metrics.sources
    s.match = match_stage.counts
    s.indexed = lambda: (index_stage.indexed, index_stage.stale)
    s.rule_matches = match_stage.rule_matches = Counter()
    s.alerts_by_channel = alert_stage.by_channel
    s.alerts_gave_way = lambda: alert_stage.give_way.waited
    s.dead_letters = [dead.by_stage, alert_stage.dead.by_stage]
    index_stage.on_bulk = metrics.bulk_done
    alert_stage.on_sent = lambda alert: metrics.alert_sent(alert.channel, (m.story.received.isoformat() for m in alert.matches))
    match_stage.handle = metrics.timed("match", match_stage.handle)
    index_stage.handle = metrics.timed("index", index_stage.handle)
    alert_stage._decide_all = metrics.timed("alerts", alert_stage._decide_all)
    guards = {settings.stories_topic: match_stage.guard, settings.matched_topic: index_stage.guard,
              settings.matches_topic: alert_stage.decide_guard, settings.alerts_topic: alert_stage.deliver_guard}
    monitoring.install(app, settings, metrics, rules, es, guards)
    return metrics


def live_rulebook(rules: LiveRules) -> RuleBook:
    """The alert stage's view of the live rules, changed rule by rule as they change.

    A rule whose subscribers are wrong is left out (and logged), never
    silencing the others.
    """
    book = RuleBook()

    def load(all_rules) -> None:
        for rule in all_rules.values():
            book.put(rule.id, rule.to_dict())

    def change(rule_id: str, rule) -> None:
        if rule is None:
            book.remove(rule_id)
        else:
            book.put(rule_id, rule.to_dict())

    rules.follow(load, change)
    return book


def prepare(settings: Settings) -> None:
    """Create topics and the index before the workers start (idempotent)."""
    topic_admin.ensure(settings)
    es = elastic.sync_client(settings)
    try:
        elastic.ensure_index_sync(es, settings.index, settings.index_replicas)
    finally:
        es.close()


def run(settings: Settings, loglevel: str = "info") -> None:
    prepare(settings)
    app = build(settings)
    worker(app, loglevel).execute_from_commandline()
