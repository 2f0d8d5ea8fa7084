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
    from wirewatch.pipeline.faust_app import create_app as faust_app

    app = faust_app(settings)
    install(app, settings)
    return app


def main() -> None:
    from wirewatch.pipeline.faust_app import worker as faust_worker

    settings = load()
    logging.basicConfig(level=settings.log_level.upper())
    topics.ensure(settings)
    app = create_app(settings)
    worker = faust_worker(app, settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
