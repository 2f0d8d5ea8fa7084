"""`wirewatch rules apply|list`: the live rules on the compacted rules topic."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .backfill import since_of
from .common import console, friendly_errors, out, settings
from .rules import load_checked, problems_text, rules_app


SHOW_AT_MOST = 20


def register(app: typer.Typer) -> None:
    # These join the `rules` group that .rules defines and registers.
    rules_app.command("apply")(apply)
    rules_app.command("list")(list_)


def apply_rules_file(s, path: Path, prune: bool = True):
    """Validate a rules file and publish its difference; publish nothing if any rule is bad.

    Rules already live exactly as written were checked when they were
    published: only new and changed ones are checked again, so a change to
    one rule among 100,000 takes about as long as reading them.
    """
    return _apply(s, path, prune)[0]


def _apply(s, path: Path, prune: bool):
    """The change published, the rules live after it, and the file's rules."""
    from producers.rules_topic import publish, read_published
    from wirewatch import topics
    from wirewatch.errors import ConfigError

    topics.ensure(s, [s.rules_topic])
    live = read_published(s)
    rules, problems = load_checked(path, needs_check=lambda rule: not live.same(rule))
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s); nothing was published:\n{problems_text(path, problems)}")
    change = publish(s, rules, prune, live=live)
    now_live = rules if prune else list({**live.rules()[0], **{r.id: r for r in rules}}.values())
    return change, now_live, rules


KIBANA_WAIT_S = 10.0


def update_kibana(s, rules) -> bool:
    """Import the saved objects for these rules into WIREWATCH_KIBANA_URL; a failure is a warning."""
    from rich.markup import escape

    from wirewatch.errors import WireWatchError
    from wirewatch.kibana import client, objects

    objs = objects.saved_objects(s.index, rules)
    try:
        result = client.import_objects(objs, s.kibana_url, client.Auth.from_settings(s), wait_s=KIBANA_WAIT_S)
    except WireWatchError as exc:
        console.print(f"[yellow]warning:[/] Kibana not updated: {escape(str(exc))}", soft_wrap=True)
        return False
    for error in result.errors:
        console.print(f"[yellow]warning:[/] Kibana: not imported: {escape(str(error))}", soft_wrap=True)
    console.print(f"Kibana at {s.kibana_url}: {result.success_count} of {len(objs)} saved object(s) imported")
    return result.success


def apply(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Rules file to make live.", show_default=False),
    prune: bool = typer.Option(True, "--prune/--keep", help="Delete live rules that are not in the file (default) or keep them."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show what would change; publish nothing."),
    show_all: bool = typer.Option(False, "--all", help=f"List every rule added, changed or removed (default: the first {SHOW_AT_MOST} of each)."),
    backfill: str = typer.Option(
        None, "--backfill", metavar="SINCE",
        help="Then add the file's rule ids to the `rules` of matching stories indexed since SINCE (30d, 2026-11-01, 100000d for all), so each rule's saved search is complete from day one. Safe to interrupt and run again.",
        show_default=False,
    ),
) -> None:
    """Validate a rules file and publish what differs from the live rules.

    Running workers pick the change up within seconds, without a restart. Nothing is
    published when any rule in the file is invalid. With WIREWATCH_KIBANA_URL set, the
    Kibana saved objects (a saved search per live rule, the dashboard) are imported again
    afterwards; a Kibana that fails is a warning, not a failed apply.

    With --backfill SINCE, the stories already indexed since SINCE are matched against
    every rule of the file, and each rule's id is added to the `rules` field of the
    stories it matches that lack it (written at the story's own version, so a newer
    version the workers index later still replaces it). Ids are only ever added: a story
    a changed rule no longer matches keeps the id it was indexed with. Running it again
    writes nothing new; after an interruption it completes what is left. With --dry-run
    it counts what it would write.

    Examples:

      wirewatch rules apply examples/rules.yaml

      wirewatch rules apply new-rules.yaml --keep --backfill 90d

      wirewatch rules apply examples/rules.yaml --dry-run --backfill 30d
    """
    from producers.rules_topic import diff, read_published

    s = settings()
    with friendly_errors():
        # A SINCE that cannot be read stops the apply before anything is published.
        backfill_since = None if backfill is None else since_of(backfill)
        if dry_run:
            rules, problems = load_checked(path)
            if problems:
                console.print(problems_text(path, problems), markup=False, soft_wrap=True)
            live = read_published(s)
            change = diff(live, rules, prune)
        else:
            change, now_live, rules = _apply(s, path, prune)
    verb = "would be" if dry_run else "were"
    for label, ids, colour in (("added", change.added, "green"), ("changed", change.changed, "yellow"), ("removed", change.removed, "red")):
        # A rule set a program writes can change by 100,000 rules at once:
        # name a few unless asked for all (one rich line each costs ~0.1 ms).
        shown = ids if show_all or len(ids) <= SHOW_AT_MOST else ids[:SHOW_AT_MOST]
        for rule_id in shown:
            out.print(f"[{colour}]{label:8}[/] {rule_id}", highlight=False)
        if len(shown) < len(ids):
            out.print(f"[{colour}]{label:8}[/] … and {len(ids) - len(shown):,} more (--all lists every one)", highlight=False)
    if not change:
        console.print(f"live rules on {s.rules_topic} already match {path}")
    else:
        console.print(
            f"{len(change.added)} added, {len(change.changed)} changed, {len(change.removed)} removed: "
            f"{verb} published to {s.rules_topic}"
        )
    if not dry_run and s.kibana_url:
        # The saved search of each live rule (and the rules field's names) follow the rules.
        update_kibana(s, now_live)
    if backfill_since is not None:
        from .backfill import run as run_backfill

        with friendly_errors():
            run_backfill(s, rules, backfill_since, dry_run=dry_run)


def list_(
    as_json: bool = typer.Option(False, "--json", help="Print each rule as one JSON line."),
) -> None:
    """Show the rules that are live now (what every worker matches with)."""
    from rich.table import Table

    from producers.rules_topic import read_live

    s = settings()
    with friendly_errors():
        live, problems = read_live(s)
    for p in problems:
        console.print(f"[yellow]unreadable rule message[/] {p}", soft_wrap=True)
    if as_json:
        for rule in sorted(live.values(), key=lambda r: r.id):
            out.print(json.dumps(rule.to_dict(), ensure_ascii=False), markup=False, highlight=False)
        return
    table = Table("id", "name", "query", title=f"{len(live)} live rules on {s.rules_topic}")
    for rule in sorted(live.values(), key=lambda r: r.id):
        table.add_row(rule.id, rule.name or "", rule.query)
    out.print(table)
