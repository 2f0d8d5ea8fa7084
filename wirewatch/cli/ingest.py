"""`wirewatch ingest`: run live sources (feeds, drop folders, HTTP push) onto Kafka until stopped."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from .common import console, friendly_errors, out, settings

EXAMPLE = """\
sources:
  - name: guardian-world
    kind: feed                  # RSS 2.0 or Atom
    url: https://www.theguardian.com/world/rss
    interval: 5m                # failing feeds back off, up to 1h
  - name: dpa-drop
    kind: folder                # files delivered by FTP/SFTP
    path: /srv/wires/dpa        # done/ and failed/ are made inside it
    quiet: 5s                   # unchanged this long = complete
  - name: agency-push
    kind: push                  # POST /stories, GET /healthz, GET /status
    port: 8086                  # bearer token: WIREWATCH_INGEST_TOKEN
"""


def register(app: typer.Typer) -> None:
    app.command("ingest", help=_help())(ingest)


def _help() -> str:
    return (
        "Run every source of a sources file and send their stories to Kafka (key = story id), until Ctrl-C.\n\n"
        "Kinds: [bold]feed[/] (RSS/Atom polled with ETag/Last-Modified, backoff with jitter on errors), "
        "[bold]folder[/] (a drop folder: complete files only, then moved to done/ or failed/ with NAME.error.txt), "
        "[bold]push[/] (HTTP POST of ninjs, story JSON or NewsML-G2 to /stories, bearer token "
        "WIREWATCH_INGEST_TOKEN; 202 once Kafka acknowledged, 4xx with the reason, 503 when Kafka is away).\n\n"
        "A story already sent is not sent again, across restarts; an item whose words changed goes out as its "
        "next version. State lives in WIREWATCH_HOME/ingest/. Ctrl-C stops after the sends in flight are "
        "acknowledged.\n\n"
        "A sources file (examples/sources.yaml has every option):\n\n"
        + "\n".join("    " + line for line in EXAMPLE.splitlines())
        + "\n\nExamples:\n\n"
        "  wirewatch ingest examples/sources.yaml\n\n"
        "  wirewatch ingest --check examples/sources.yaml\n\n"
        "  wirewatch ingest --status"
    )


def ingest(
    sources_file: Path = typer.Argument(None, metavar="SOURCES.yaml", help="The sources to run.", show_default=False),
    status: bool = typer.Option(False, "--status", help="Show the counters of the ingest running (or last run) with this WIREWATCH_HOME, and exit."),
    check: bool = typer.Option(False, "--check", help="Check the sources file, print what it runs, and exit."),
    state: Path = typer.Option(None, "--state", help="Folder for the state and status files. Default: WIREWATCH_HOME/ingest.", show_default=False),
    log_level: str = typer.Option(None, "--log-level", help="debug, info, warning or error. Default: WIREWATCH_LOG_LEVEL."),
) -> None:
    import asyncio
    import logging
    import os
    import signal

    from producers.ingest import config, runner

    s = settings()
    folder = state or runner.state_dir(s)
    if status:
        show_status(runner.status_path(folder))
        return
    if sources_file is None:
        console.print("[red]error:[/] give a sources file (see `wirewatch ingest --help`), or --status")
        raise typer.Exit(2)
    with friendly_errors():
        sources = config.load(sources_file)
        if check:
            for src in sources.sources:
                where = getattr(src, "url", None) or getattr(src, "path", None) or f"http://{src.host}:{src.port}/stories"
                out.print(f"{src.name}: {src.kind} {where}")
            out.print(f"{len(sources.sources)} sources, to topic {sources.topic or s.stories_topic}")
            return
        logging.basicConfig(
            level=(log_level or s.log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        # kafka-python logs every refused connection as an error; ingest says once, per source, what failed.
        logging.getLogger("kafka").setLevel(logging.DEBUG if (log_level or "").lower() == "debug" else logging.CRITICAL)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        job = runner.Ingest(sources, s, folder)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            interrupted = 0

            def on_signal() -> None:
                nonlocal interrupted
                interrupted += 1
                if interrupted == 1:
                    console.print("[yellow]stopping after the sends in flight are acknowledged (Ctrl-C again to quit now)[/]")
                    job.stop.set()
                else:
                    # At once, without waiting for threads: the state is written in
                    # transactions and only for acknowledged stories, so quitting now
                    # loses nothing; what was in flight is sent again next time.
                    console.print("[yellow]quitting now[/]")
                    os._exit(130)

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal)
            await job.run()

        asyncio.run(main())


def show_status(path: Path) -> None:
    from rich.table import Table

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        console.print(f"[yellow]no ingest has run with this state folder ({path.parent})[/]")
        raise typer.Exit(1) from None
    pid = doc.get("pid")
    alive = bool(pid) and doc.get("running") and _alive(pid)
    now = time.time()
    state = f"running (pid {pid})" if alive else "not running"
    out.print(f"ingest {state}; status of {_ago(now - doc['updated'])}; topic {doc.get('topic')}; Kafka {doc.get('kafka')}")
    for name, url in (doc.get("endpoints") or {}).items():
        out.print(f"  {name}: {url}/stories")
    table = Table("source", "kind", "fetched", "new", "updated", "unchanged", "failed", "last success", "next poll")
    errors = []
    for name, c in doc["sources"].items():
        table.add_row(
            name, c["kind"], str(c["fetched"]), str(c["new"]), str(c["updated"]), str(c["unchanged"]), str(c["failed"]),
            _ago(now - c["last_success"]) if c.get("last_success") else "never",
            (f"in {max(0, c['next_poll'] - now):.0f} s" if c.get("next_poll") and alive else "-"),
        )
        if c.get("last_error"):
            errors.append(f"  {name}, {_ago(now - c['last_error_at'])}: {c['last_error']}")
    out.print(table)
    if errors:
        out.print("last errors:")
        for line in errors:
            out.print(line, markup=False)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
