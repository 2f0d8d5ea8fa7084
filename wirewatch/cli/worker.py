"""`wirewatch worker`: run a Faust worker (matching, indexing and, when configured, alerts)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import console, friendly_errors, settings


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def worker(
    rules: Path = typer.Option(
        None, "--rules", exists=True, dir_okay=False, help="Publish this rules file to the rules topic before starting (like `wirewatch rules apply`). Default: WIREWATCH_RULES_FILE, if set."
    ),
    loglevel: str = typer.Option(None, "--loglevel", "-l", help="debug, info, warning or error. Default: WIREWATCH_LOG_LEVEL."),
    web_port: int = typer.Option(None, "--web-port", help="Serve Faust's web interface on this port (off by default)."),
    metrics_port: int = typer.Option(
        None, "--metrics-port", min=0, max=65535,
        help="Serve /metrics, /healthz, /readyz and /status on this port; 0 for none. Default: WIREWATCH_METRICS_PORT (9464). A second worker on the same host needs a port of its own."),
) -> None:
    """Run one worker of the consumer group.

    Start as many as the stories topic has partitions (WIREWATCH_PARTITIONS) to share the
    work; they coordinate through Kafka. Rules come from the rules topic and changes apply
    within seconds, without a restart. Stop with Ctrl-C: the worker finishes its
    current batch and commits what it has done.
    """
    s = settings(web_port=web_port, metrics_port=metrics_port)
    with friendly_errors():
        rules = rules or s.rules_file
        if rules is not None:
            from .rules_live import apply_rules_file

            change = apply_rules_file(s, rules)
            console.print(
                f"rules from {rules}: {len(change.added)} added, {len(change.changed)} changed, {len(change.removed)} removed"
            )
        from streams.worker import run

        console.print(f"[bold]wirewatch worker[/] group={s.app_id} kafka={s.kafka_bootstrap} es={s.es_url} index={s.index}"
                      + (f" metrics=http://{s.metrics_host}:{s.metrics_port}/metrics" if s.metrics_port else ""))
        run(s, loglevel=loglevel or s.log_level)
