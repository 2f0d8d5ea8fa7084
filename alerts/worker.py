"""A Faust worker that runs the alert stage alone: `python -m alerts.worker`.

The pipeline's own worker installs this stage next to the others; this one
is for running alerts by themselves (tests, demos, a dedicated alerting
host).  Settings come from WIREWATCH_* variables, rules from
WIREWATCH_RULES_FILE.
"""

from __future__ import annotations

import logging

from wirewatch import topics
from wirewatch.settings import Settings, load

from .stage import install


def create_app(settings: Settings):
    import faust

    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        web_enabled=settings.web_port != 0,
        web_port=settings.web_port or 6066,
        producer_acks=-1,
    )
    install(app, settings)
    return app


def main() -> None:
    import faust

    settings = load()
    logging.basicConfig(level=settings.log_level.upper())
    topics.ensure(settings)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
