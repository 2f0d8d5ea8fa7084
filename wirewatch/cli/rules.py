"""`wirewatch rules …`: work with rules files."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import console, out
from .match import _where

rules_app = typer.Typer(help="Check watch rules files (and, with Kafka, publish and list live rules).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


def load_checked(path: Path, needs_check=None):
    """A rules file's valid rules and its problems: queries and every stage's keys (subscribers).

    `needs_check` limits the checks to some rules (those not yet live as they are).
    """
    from alerts.subscriptions import check
    from wirewatch.rules import load_rules

    return load_rules(path, check=check, needs_check=needs_check)


def problems_text(path: Path, problems) -> str:
    return "\n".join(f"{_where(path, p)}{p}" for p in problems)


@rules_app.command("check")
def check(path: Path = typer.Argument(..., dir_okay=False, help="Rules file to check.", show_default=False)) -> None:
    """Check every rule of a rules file: its query against the watch-query spec, and its subscribers.

    Exits 0 when every rule is valid; otherwise prints one line per problem (file:line,
    rule id, reason, and the column in the query) and exits 1.
    """
    rules, problems = load_checked(path)
    for problem in problems:
        out.print(f"{_where(path, problem)}{problem}", markup=False)
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/] in {path}; {len(rules)} valid rule(s)")
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {len(rules)} rule(s) in {path}")
