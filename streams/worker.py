"""Bootstrap of a worker: settings in, a running Faust worker out.

This is the one place that builds clients and wires stages together.
"""

from __future__ import annotations

import logging

from alerts.rulebook import RuleBook
from alerts.stage import install as install_alerts
from wirewatch import topics as topic_admin
from wirewatch.pipeline.deadletter import DeadLetters
from wirewatch.pipeline.faust_app import create_app
from wirewatch.pipeline.progress import GapGuard
from wirewatch.pipeline.tables import by_suffix, keyed_table
from wirewatch.settings import Settings

from . import elastic
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
    match_stage = MatchStage(topics, rules, dead, GapGuard(progress, settings.kafka_bootstrap, stage="match"))
    index_stage = IndexStage(settings, es, dead, GapGuard(progress, settings.kafka_bootstrap, stage="index"))
    install_rules(app, rules)
    install_matching(app, topics, match_stage)
    install_indexing(app, topics, settings, index_stage)
    install_tail_check(app, {settings.stories_topic: match_stage, settings.matched_topic: index_stage})
    install_alerts(app, settings, rules=rulebook_of(rules), ready=rules.ready.wait)

    @app.on_before_shutdown.connect
    async def _close(_app, **kwargs) -> None:
        await es.close()
        await match_stage.guard.close()
        await index_stage.guard.close()

    return app


def rulebook_of(rules: LiveRules):
    """The alert stage's view of the live rules, rebuilt only when they change."""
    cache: dict = {"version": None, "book": None}

    def current() -> RuleBook:
        if cache["version"] != rules.version:
            # strict=False: a rule whose subscribers are wrong is left out
            # (and logged), never silencing the others.
            cache["book"] = RuleBook.from_rules(((r.id, r.to_dict()) for r in rules.rules.values()), strict=False)
            cache["version"] = rules.version
        return cache["book"]

    return current


def prepare(settings: Settings) -> None:
    """Create topics and the index before the workers start (idempotent)."""
    topic_admin.ensure(settings)
    es = elastic.sync_client(settings)
    try:
        elastic.ensure_index_sync(es, settings.index, settings.index_replicas)
    finally:
        es.close()


def run(settings: Settings, loglevel: str = "info") -> None:
    import faust

    prepare(settings)
    app = build(settings)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
