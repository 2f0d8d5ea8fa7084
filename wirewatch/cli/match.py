"""`wirewatch match`: match story files against a rules file, offline (no Kafka)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .common import console, friendly_errors


def register(app: typer.Typer) -> None:
    app.command("match")(match)


def match(
    inputs: list[Path] = typer.Argument(
        ..., help="Story files or folders: Reuters-21578 .sgm, plain-text .txt, ninjs .json, NewsML-G2 .xml, RSS/Atom .rss/.atom, story .jsonl.", show_default=False
    ),
    rules: Path = typer.Option(..., "--rules", "-r", dir_okay=False, help="Rules file (YAML with a top-level `rules:` list).", show_default=False),
    strict: bool = typer.Option(False, "--strict", help="Refuse to run if any rule is invalid (default: report it on stderr and match with the others)."),
) -> None:
    """Print one JSON line per story, in input order: {"id": …, "rules": \\[matching rule ids, sorted]}.

    Stories that match nothing are printed too, with "rules": []. Unreadable items are
    reported on stderr with their file and position and skipped.

    Example:

      wirewatch match --rules examples/rules.yaml ../shared/corpus/reuters21578/reut2-000.sgm
    """
    import orjson

    from producers.sources import read_stories
    from wirewatch.query import Matcher
    from wirewatch.rules import load_rules

    with friendly_errors():
        loaded, problems = load_rules(rules)
        for problem in problems:
            console.print(f"[yellow]rule skipped[/] {_where(rules, problem)}{problem}", soft_wrap=True)
        if problems and (strict or not loaded):
            console.print(f"[red]error:[/] {len(problems)} problem(s) in {rules}; nothing matched")
            raise typer.Exit(2)
        matcher = Matcher.from_rules(loaded)

        def skipped(exc) -> None:
            console.print(f"[yellow]skipped[/] {exc}", soft_wrap=True)

        write = sys.stdout.buffer.write
        for story in read_stories(inputs, on_error=skipped):
            write(orjson.dumps({"id": story.id, "rules": matcher.match(story.title, story.body)}) + b"\n")
        sys.stdout.flush()


def _where(path: Path, problem) -> str:
    return f"{path}:{problem.line}: " if getattr(problem, "line", None) else ""
