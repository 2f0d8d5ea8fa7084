"""`wirewatch produce`: replay story files onto the stories topic."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from .common import console, friendly_errors, settings


def register(app: typer.Typer) -> None:
    app.command("produce")(produce)


def produce(
    paths: list[Path] = typer.Argument(
        ..., help="Story files or folders: Reuters-21578 .sgm, plain-text .txt, ninjs .json, story .jsonl.", show_default=False
    ),
    speed: float = typer.Option(
        None, "--speed", min=0.001, help="Replay at the stories' original pace sped up this many times (60: an hour a minute). Default: as fast as possible."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Send at most this many stories."),
    topic: str = typer.Option(None, "--topic", help="Topic to send to. Default: the stories topic (WIREWATCH_TOPIC_PREFIX.stories)."),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers. Default: WIREWATCH_KAFKA_BOOTSTRAP."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Read wire stories from files and send them to Kafka (key = story id, value = JSON).

    Unreadable items are reported with their file and position and skipped; the run goes on.

    Examples:

      wirewatch produce ../shared/corpus/reuters21578/*.sgm

      wirewatch produce --speed 600 --limit 500 ../shared/corpus/reuters21578/reut2-000.sgm
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from producers.kafka_sink import StorySink
    from producers.replay import Pace, replay
    from producers.sources import read_stories
    from wirewatch import topics

    s = settings(kafka_bootstrap=bootstrap)
    skipped = 0

    def report(exc) -> None:
        nonlocal skipped
        skipped += 1
        console.print(f"[yellow]skipped[/] {exc}")

    with friendly_errors():
        stories = []
        for story in read_stories(paths, on_error=report):
            stories.append(story)
            if limit and len(stories) >= limit:
                break
        target = topic or s.stories_topic
        topics.ensure(s, [target])
        pace = Pace(speed)
        started = time.monotonic()
        with StorySink(s, target) as sink, Progress(
            TextColumn("[bold]producing[/] {task.fields[topic]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not progress,
            transient=False,
        ) as bar:
            task = bar.add_task("produce", total=len(stories), topic=target)
            try:
                replay(stories, sink.send, pace, on_sent=lambda _story: bar.advance(task))
            except KeyboardInterrupt:
                console.print("[yellow]interrupted: flushing what was sent[/]")
            sink.flush()
        elapsed = time.monotonic() - started
        console.print(
            f"sent {sink.sent} stories to {target} in {elapsed:.1f} s"
            f" ({sink.sent / elapsed if elapsed else 0:.0f}/s); {sink.failed} failed, {skipped} unreadable items skipped"
        )
        if sink.failed:
            raise typer.Exit(1)
