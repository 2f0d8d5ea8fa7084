"""`wirewatch kibana export | import`: a data view, a saved search per rule and a dashboard."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from .common import console, friendly_errors, out, settings

kibana_app = typer.Typer(
    name="kibana",
    help="Kibana saved objects for the story index: a data view, one saved search per rule, a dashboard.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def register(app: typer.Typer) -> None:
    app.add_typer(kibana_app)


RULES = typer.Option(
    None, "--rules", exists=True, dir_okay=False,
    help="Rules file (default: WIREWATCH_RULES_FILE). Without one, only the data view, the dashboard and its searches.",
)


def rules_for_kibana(path: Path | None):
    """The rules of a rules file, checked as `rules apply` checks them; [] without a file."""
    from wirewatch.errors import ConfigError

    from .rules import load_checked, problems_text

    if path is None:
        return []
    rules, problems = load_checked(path)
    if problems:
        raise ConfigError(f"{path}: {len(problems)} problem(s); nothing was exported:\n{problems_text(path, problems)}")
    return rules


def build(s, path: Path | None) -> list[dict]:
    from wirewatch.kibana import objects

    if path is None:
        console.print("[yellow]no rules file[/] (--rules or WIREWATCH_RULES_FILE): no saved search per rule")
    return objects.saved_objects(s.index, rules_for_kibana(path))


def send(s, objs: list[dict], url: str, wait_s: float):
    """Import and report: the count, then each object Kibana refused.  Returns the ImportResult."""
    from wirewatch.kibana import client

    result = client.import_objects(objs, url, client.Auth.from_settings(s), wait_s=wait_s)
    console.print(f"{result.success_count} of {len(objs)} saved object(s) imported into Kibana at {url}")
    for error in result.errors:
        console.print(f"[red]not imported:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    return result


@kibana_app.command("export")
def export(
    rules: Path = RULES,
    out_file: Path = typer.Option(None, "--out", "-o", dir_okay=False, help="Write the NDJSON here (default: standard output)."),
) -> None:
    """Write the Kibana 9 saved objects as NDJSON (what Kibana's own export writes).

    A data view on the story index (WIREWATCH_INDEX, time field @timestamp), one saved
    search per rule (Discover on rules:"<id>"), a search of every matched story, two Lens
    charts and the WireWatch dashboard. Ids are fixed for an index and a rule id: importing
    again overwrites, never duplicates.

    Examples:

      wirewatch kibana export --rules examples/rules.yaml --out wirewatch.ndjson
      (then Stack Management → Saved objects → Import, or `wirewatch kibana import`)
    """
    from wirewatch.kibana import objects

    s = settings()
    with friendly_errors():
        text = objects.to_ndjson(build(s, rules or s.rules_file))
    if out_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out_file.write_text(text, encoding="utf-8")
        console.print(f"{text.count(chr(10))} saved object(s) written to {out_file}")


@kibana_app.command("import")
def import_(
    rules: Path = RULES,
    url: str = typer.Option(None, "--url", help="Kibana URL (default: WIREWATCH_KIBANA_URL), e.g. http://localhost:5601 or http://kibana:5601/s/news."),
    wait: float = typer.Option(60.0, "--wait", min=0, help="Seconds to keep retrying while Kibana is unreachable or starting (503)."),
) -> None:
    """Put the saved objects in Kibana through its import API (overwriting earlier imports).

    Auth: WIREWATCH_KIBANA_API_KEY, or WIREWATCH_KIBANA_USERNAME and WIREWATCH_KIBANA_PASSWORD.
    Exits 1 naming each object Kibana refused (id, type, reason), or when Kibana answers an error.

    Example:

      wirewatch kibana import --rules examples/rules.yaml --url http://localhost:5601
    """
    from wirewatch.errors import ConfigError
    from wirewatch.kibana import objects

    s = settings()
    with friendly_errors():
        url = url or s.kibana_url
        if not url:
            raise ConfigError("no Kibana URL: pass --url or set WIREWATCH_KIBANA_URL")
        result = send(s, build(s, rules or s.rules_file), url, wait)
    if not result.success:
        console.print(f"[red]{len(result.errors)} saved object(s) not imported[/]")
        raise typer.Exit(1)
    out.print(f"dashboard: {objects.dashboard_url(url, s.index)}", markup=False, highlight=False)
