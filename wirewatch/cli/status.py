"""`wirewatch status`: the running pipeline at a glance, refreshed live."""

from __future__ import annotations

import json
import time

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .common import console, friendly_errors, out, settings


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    urls: list[str] = typer.Option(
        None, "--url", "-u",
        help="A worker's metrics endpoint, e.g. http://127.0.0.1:9464 (repeatable). Default: WIREWATCH_STATUS_URLS."),
    group: str = typer.Option(None, "--group", "-g", help="Consumer group. Default: WIREWATCH_APP_ID."),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers. Default: WIREWATCH_KAFKA_BOOTSTRAP."),
    interval: float = typer.Option(2.0, "--interval", "-i", min=0.2,
                                   help="Seconds between refreshes; with --once or --json, the span the rates are measured over."),
    once: bool = typer.Option(False, "--once", help="Show one view and exit (rates over --interval)."),
    as_json: bool = typer.Option(False, "--json", help="Print one snapshot as JSON and exit, for scripts."),
) -> None:
    """Lag and rate per partition, and each worker's last minute, refreshed live (Ctrl-C stops).

    Lag and rate come from the offsets the group has committed in Kafka (so a
    stopped worker's partitions show their backlog growing); "worker lag" is
    what the partition's worker has not processed yet (it can be ahead of its
    commit after a restart), and the total counts it where a worker answers; stories, matches
    and alerts of the last minute, dead letters since start and the slowest
    stage come from each worker's metrics endpoint (WIREWATCH_METRICS_PORT).

    Examples:

      wirewatch status                                    # live, the worker on this host

      wirewatch status -u http://w1:9464 -u http://w2:9464

      wirewatch status --json | jq .total_lag

    Exit code with --once or --json: 0 when Kafka and every endpoint answered, 1 otherwise.
    """
    from wirewatch.status import sample, view

    s = settings(kafka_bootstrap=bootstrap)
    group = group or s.app_id
    urls = list(urls or [u.strip() for u in s.status_urls.split(",") if u.strip()])
    with friendly_errors():
        if once or as_json:
            first = sample(s, group, urls)
            time.sleep(interval)
            data = view(sample(s, group, urls), first)
            if as_json:
                out.print_json(json.dumps(data))
            else:
                out.print(render(data))
            reached = data["kafka"]["ok"] and all(w["ok"] for w in data["workers"])
            raise typer.Exit(0 if reached else 1)

        from rich.live import Live

        before = sample(s, group, urls)
        with Live(render(view(before)), console=out, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(interval)
                now = sample(s, group, urls)
                live.update(render(view(now, before)))
                before = now


def render(data: dict) -> Group:
    parts = []
    if data["total_lag"] is None:
        lag = Text("lag unknown", style="bold red")
    else:
        lag = Text(f"total lag {data['total_lag']:,}", style="bold red" if data["total_lag"] else "bold green")
    parts.append(Text.assemble(("group ", "dim"), (data["group"], "bold"), "   ", lag))
    if not data["kafka"]["ok"]:
        parts.append(Text(data["kafka"]["error"], style="red"))

    partitions = Table(title="Partitions (Kafka's committed offsets)", title_justify="left", expand=False)
    for name, justify in (("topic", "left"), ("partition", "right"), ("committed", "right"), ("end", "right"),
                          ("lag", "right"), ("worker lag", "right"), ("rate/s", "right"), ("worker", "left")):
        partitions.add_column(name, justify=justify)
    for p in data["partitions"]:
        partitions.add_row(
            p["topic"], str(p["partition"]), "–" if p["committed"] is None else f"{p['committed']:,}", f"{p['end']:,}",
            Text(f"{p['lag']:,}", style="red" if p["lag"] else "green"),
            "–" if p["worker_lag"] is None else Text(f"{p['worker_lag']:,}", style="red" if p["worker_lag"] else "green"),
            "–" if p["rate_per_s"] is None else f"{p['rate_per_s']:,.1f}", p["worker"] or "–",
        )
    if data["partitions"]:
        parts.append(partitions)
    elif data["kafka"]["ok"]:
        parts.append(Text(f"no topics of this pipeline in Kafka yet (group {data['group']})", style="yellow"))

    workers = Table(title="Workers (metrics endpoints)", title_justify="left", expand=False)
    for name in ("endpoint", "ready", "partitions", "stories/min", "matches/min", "indexed/min", "alerts sent/min",
                 "dead letters", "slowest stage", "rules"):
        workers.add_column(name, justify="left" if name in ("endpoint", "slowest stage") else "right")
    unreachable = [w for w in data["workers"] if not w["ok"]]
    for w in data["workers"]:
        if not w["ok"]:
            workers.add_row(escape(w["url"]), Text("unreachable", style="red"), *[""] * 8)
            continue
        m = w["last_minute"]
        busy = w["busy_seconds_last_minute"].get(w["slowest_stage"] or "", 0)
        workers.add_row(
            escape(w["url"]), Text("yes", style="green") if w["ready"] else Text("no", style="red"), str(w["partitions"]),
            f"{m['stories']:,.0f}", f"{m['matches']:,.0f}", f"{m['indexed']:,.0f}", f"{m['alerts_sent']:,.0f}",
            Text(f"{w['dead_letters_since_start']:,.0f}", style="red" if w["dead_letters_since_start"] else ""),
            f"{w['slowest_stage']} ({busy:.1f} s busy)" if w["slowest_stage"] else "–",
            f"{w['rules']['live']:,} (v{w['rules']['version']})" if w.get("rules") else "–",
        )
    if data["workers"]:
        parts.append(workers)
    for w in unreachable:
        parts.append(Text(f"{w['error']} (is the worker running with WIREWATCH_METRICS_PORT set to that port?)", style="red"))
    return Group(*parts)
