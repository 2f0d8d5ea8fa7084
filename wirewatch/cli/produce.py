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
        ..., help="Story files or folders: Reuters-21578 .sgm, plain-text .txt, ninjs .json, NewsML-G2 .xml, RSS/Atom .rss/.atom, story .jsonl.", show_default=False
    ),
    speed: float = typer.Option(
        None, "--speed", min=0.001, help="Replay at the stories' original pace sped up this many times (60: an hour a minute). Default: as fast as possible."
    ),
    rate: float = typer.Option(None, "--rate", min=0.001, help="Send this many stories a second, steadily (not with --speed)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Send at most this many stories."),
    topic: str = typer.Option(None, "--topic", help="Topic to send to. Default: the stories topic (WIREWATCH_TOPIC_PREFIX.stories)."),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers. Default: WIREWATCH_KAFKA_BOOTSTRAP."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    unsent: Path = typer.Option(
        None, "--unsent", help="Where stories Kafka did not acknowledge are saved (story JSON Lines). "
        "Default: WIREWATCH_HOME/unsent/<topic>-<time>.jsonl, written only when there are some.",
        show_default=False,
    ),
) -> None:
    """Read wire stories from files and send them to Kafka (key = story id, value = JSON).

    Unreadable items are reported with their file and position and skipped; the run goes on.
    A story Kafka did not acknowledge (the broker stayed away longer than the
    two-minute delivery timeout) is not dropped: it is saved to a JSON Lines
    file that this command sends again, and the exit status is 1.

    Examples:

      wirewatch produce ../shared/corpus/reuters21578/*.sgm

      wirewatch produce --speed 600 --limit 500 ../shared/corpus/reuters21578/reut2-000.sgm

      wirewatch produce --rate 100 ../shared/corpus/reuters21578/reut2-001.sgm

      wirewatch produce ../shared/corpus/formats/newsml-g2/ ../shared/corpus/formats/feeds/guardian.rss
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from producers.kafka_sink import StorySink
    from producers.replay import Pace, replay
    from producers.sources import read_stories
    from wirewatch import topics

    s = settings(kafka_bootstrap=bootstrap)
    skipped = 0
    failed: list = []

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
        if speed is not None and rate is not None:
            console.print("[red]error:[/] --speed and --rate exclude each other")
            raise typer.Exit(2)
        pace = Pace(speed, rate=rate)
        started = time.monotonic()
        with StorySink(s, target, on_failure=lambda story, _error: failed.append(story)) as sink, Progress(
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
        if failed:
            path = unsent or s.home.expanduser() / "unsent" / f"{target}-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
            save_stories(path, failed)
            console.print(
                f"[red]error:[/] {len(failed)} stories were not acknowledged by Kafka; they are saved in {path} "
                f"(`wirewatch produce {path}` sends them again)"
            )
            raise typer.Exit(1)


def save_stories(path: Path, stories) -> None:
    """Story JSON Lines, complete or not there at all (written aside, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as out:
        for story in stories:
            out.write(story.to_json() + b"\n")
    part.replace(path)
