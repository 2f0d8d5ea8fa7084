"""`wirewatch rules backtest`: rules run over the stories already indexed, before they go live.

Reading is `streams.archive` (point in time, search_after, a page read
ahead); matching, counting, samples and the alerts subscribers would have
had are `wirewatch.backtest` (pure); this module picks the rules, shows
progress and prints.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer

from .common import console, friendly_errors, out, settings, since_option
from .rules import load_checked, problems_text, rules_app

PAGE = 2000  # stories per request: large enough to keep Elasticsearch busy, small enough for a steady progress bar
TABLE_ROWS = 50
CHART_HEIGHT = 4


def register(app: typer.Typer) -> None:
    # Joins the `rules` group that .rules defines and registers.
    rules_app.command("backtest")(backtest)


def backtest(
    path: Path = typer.Argument(..., dir_okay=False, help="Rules file (YAML or JSON Lines), as for `rules apply`; it need not be live.", show_default=False),
    rule_ids: list[str] = typer.Option(None, "--rule", "-r", help="Only this rule of the file (repeatable). Default: every rule.", show_default=False),
    since: str = typer.Option("30d", "--since", "-s", help="Stories published since: a duration back from now (90m, 12h, 30d, 2w) or a time (2026-11-01, 2026-11-01T08:00)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document for scripts: per rule its matches per day, samples with their hits, and every alert each subscriber would have had."),
    samples: int = typer.Option(3, "--samples", min=0, max=50, help="Newest matched stories shown per rule."),
    show: int = typer.Option(10, "--show", min=0, help="Rules shown in detail (chart, samples, alerts): those with the most matches. Every rule named with --rule is shown."),
    index: str = typer.Option(None, "--index", help="Index to read. Default: WIREWATCH_INDEX."),
    page: int = typer.Option(PAGE, "--page", min=10, max=10000, help="Stories per request to Elasticsearch.", hidden=True),
) -> None:
    """Try rules on the stories already indexed: what would they have matched, and sent?

    Every story in the index whose time (@timestamp: published, else received) is since
    --since is read from Elasticsearch (one point in time, in pages, oldest first) and
    matched with the same matcher the workers run. For each rule it prints how many
    stories it matched per day (a chart), its newest matches with the matched words
    highlighted, and what each subscriber would have received: instant alerts, flood
    summaries (realert), digests and what quiet hours held back, decided by the alert
    stage's own policy at each story's time. Nothing is published, written or sent.

    Examples:

      wirewatch rules backtest examples/rules.yaml --since 7d

      wirewatch rules backtest examples/rules.yaml --rule gold-price --since 2026-11-01

      wirewatch rules backtest new-rules.yaml --since 100000d --json > backtest.json

    The speed (stories read and matched per second) is printed at the end; see
    benchmarks/README.md for the figure at 1,000 rules.
    """
    from alerts.subscriptions import parse
    from wirewatch.backtest import Backtest, rule_infos

    s = settings(index=index)
    with friendly_errors():
        rules = _rules(path, rule_ids or [])
        start = since_option(since)
        alerting = {r.id: parse(r.id, r.to_dict()) for r in rules}
        engine = None if s.matcher_engine == "auto" else s.matcher_engine
        bt = Backtest(rule_infos(rules), alerting, samples=samples, cap=s.alerts_digest_max_items, engine=engine)
        seconds, waited = _read(s, s.index, start, bt, page, quiet=as_json)
        report = bt.report()
    rate = report.stories / seconds if seconds > 0 else 0.0
    if as_json:
        from wirewatch.backtest import to_json

        doc = to_json(report, index=s.index, since=start.isoformat(), engine=bt.matcher.engine,
                      seconds=round(seconds, 3), stories_per_second=round(rate), waiting_for_elasticsearch_seconds=round(waited, 3))
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    if report.stories == 0:
        console.print(f"[yellow]no stories in {s.index} since {start:%Y-%m-%d %H:%M}Z[/]: nothing to try the rules on (an earlier --since?)")
        return
    _print(report, s.index, start, seconds, rate, bt.matcher.engine, show, explicit=bool(rule_ids))


def _rules(path: Path, wanted: list[str]):
    from wirewatch.errors import ConfigError

    if not path.exists():
        raise ConfigError(f"no rules file {path}")
    rules, problems = load_checked(path)
    if problems:
        raise ConfigError(
            f"{path}: {len(problems)} problem(s) (`wirewatch rules check {path}` lists them too); nothing was run:\n"
            + problems_text(path, problems)
        )
    if not wanted:
        if not rules:
            raise ConfigError(f"{path} has no rules")
        return rules
    by_id = {r.id: r for r in rules}
    missing = [r for r in wanted if r not in by_id]
    if missing:
        known = ", ".join(sorted(by_id)[:15]) + (f" … ({len(by_id)} in all)" if len(by_id) > 15 else "")
        raise ConfigError(f"no rule {', '.join(map(repr, missing))} in {path} (its rules: {known or 'none'})")
    return [by_id[r] for r in dict.fromkeys(wanted)]


def _read(s, index: str, start, bt, page: int, quiet: bool) -> tuple[float, float]:
    """Feed every story since `start` to the backtest, with a progress bar.

    Returns the seconds it took, and how many of them were spent waiting
    for Elasticsearch (the rest is matching and the alert simulation).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from streams import archive
    from wirewatch.backtest import indexed_of

    es = archive.client(s)
    query = archive.since_query(start)
    try:
        total = archive.count(es, index, query)
        progress = Progress(
            TextColumn("reading {task.fields[index]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=quiet or not console.is_terminal,
        )
        began = time.perf_counter()
        waited = 0.0
        with progress:
            task = progress.add_task("read", total=total, index=index, rate="")
            found = archive.pages(es, index, query, sort=[{"@timestamp": "asc"}], size=page, source=archive.STORY_FIELDS)
            while True:
                asked = time.perf_counter()
                hits = next(found, None)
                waited += time.perf_counter() - asked
                if hits is None:
                    break
                stories = [st for st in (indexed_of(h["_id"], h["_source"], h["sort"][0]) for h in hits) if st is not None]
                bt.add(stories)
                elapsed = time.perf_counter() - began
                progress.update(task, advance=len(hits), rate=f"{bt.read / elapsed:,.0f} stories/s" if elapsed else "")
        return time.perf_counter() - began, waited
    except Exception as exc:
        raise archive.problem(exc, s, index, "reading stories") from exc
    finally:
        es.close()


# -- printing ------------------------------------------------------------------------------


def _print(report, index: str, start, seconds: float, rate: float, engine: str, show: int, explicit: bool) -> None:
    from rich.markup import escape

    first, last = report.first_day, report.last_day
    console.print(
        f"[bold]{report.stories:,}[/] {'story' if report.stories == 1 else 'stories'} in {escape(index)} since {start:%Y-%m-%d %H:%M}Z "
        f"(published {first} to {last}); {len(report.rules):,} {'rule' if len(report.rules) == 1 else 'rules'}; "
        f"read and matched in {seconds:.2f} s: [bold]{rate:,.0f} stories/s[/] ({engine} matcher)",
        soft_wrap=True,
    )
    ranked = sorted(report.rules, key=lambda o: (-o.matches, o.rule.id))
    days = report.days
    out.print(_table(ranked, days))
    detailed = ranked if explicit else [o for o in ranked if o.matches][:show]
    for outcome in detailed:
        for line in _details(outcome, days):
            out.print(line)
    rest = sum(1 for o in ranked if o.matches) - len(detailed)
    if rest > 0:
        console.print(f"[dim]{rest} more rules matched stories: --show N details more, --rule ID one, --json every one[/]")


def _table(ranked, days):
    from rich import box
    from rich.table import Table

    from wirewatch import charts

    title = f"per rule, {days[0]} to {days[-1]}" if days else "per rule"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    longest = max((len(o.rule.id) for o in ranked[:TABLE_ROWS]), default=4)
    table.add_column("rule", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("matches", justify="right")
    table.add_column("days", justify="right")
    table.add_column("busiest day", no_wrap=True)
    table.add_column("per day", no_wrap=True)
    table.add_column("alerts", justify="right")
    # What is left of the width after the other columns goes to the chart.
    spark_width = max(10, min(60, out.width - min(longest, 24) - 48))
    for o in ranked[:TABLE_ROWS]:
        busiest = o.busiest
        spark = ""
        if o.per_day:
            spark = charts.sparkline(charts.fold(charts.series(o.per_day, days), spark_width)[0])
        alerts = sum(len(t.alerts) for t in o.subscribers)
        table.add_row(
            o.rule.id,
            f"{o.matches:,}",
            f"{len(o.per_day):,}",
            f"{busiest[0]} ({busiest[1]})" if busiest else "",
            f"[green]{spark}[/]",
            f"{alerts:,}" if o.subscribers else "[dim]–[/]",
        )
    if len(ranked) > TABLE_ROWS:
        table.add_row(f"… {len(ranked) - TABLE_ROWS:,} more", "", "", "", "--json lists every rule", "")
    table.caption = "alerts: instant alerts, flood summaries and digests its subscribers would have received (– no subscribers)"
    table.caption_justify = "left"
    return table


def _details(o, days):
    from rich.markup import escape
    from rich.text import Text

    from wirewatch import charts, display
    from wirewatch.backtest import iso, subscriber_name, tally_summary

    lines: list = [Text()]
    head = Text(o.rule.id, "bold magenta")
    if o.rule.name:
        head.append(f"  {o.rule.name}", "bold")
    head.append(f"  {o.matches:,} {'match' if o.matches == 1 else 'matches'}")
    lines.append(head)
    lines.append(Text(f"  {o.rule.query}", "dim"))
    if o.per_day:
        width = max(10, min(100, out.width - 14))
        cols, step = charts.fold(charts.series(o.per_day, days), width)
        top = max(cols)
        for i, row in enumerate(charts.columns(cols, CHART_HEIGHT)):
            label = f"{top:>6} " if i == 0 else " " * 7
            lines.append(Text(label + "│", "dim").append(row, "green"))
        axis = f"{days[0]}".ljust(max(len(cols) - 10, 11)) + f"{days[-1]}"
        lines.append(Text(" " * 8 + axis, "dim"))
        per = "day" if step == 1 else f"{step} days"
        calendar = (days[-1] - days[0]).days + 1
        # An archive can have long gaps (a replayed corpus, an outage): only days with stories are drawn.
        gaps = f"; the {calendar - len(days):,} days without any stories are left out" if calendar > len(days) else ""
        lines.append(Text(f"        matches per {per} (UTC) over the {len(days):,} days with stories{gaps}", "dim"))
    for sample in o.samples:
        story = _story(sample.story)
        for line in display.story_lines(story, (), sample.spans("title"), sample.spans("body")):
            lines.append(Text("  ").append_text(line))
        lines.append(Text(f"    {sample.story.id}", "dim"))
    if not o.subscribers:
        lines.append(Text("  no subscribers: nobody would have been alerted", "dim"))
    for t in o.subscribers:
        line = Text("  → ")
        line.append(subscriber_name(t), "cyan")
        line.append(f": {tally_summary(t)}")
        lines.append(line)
        grouped = [a for a in t.alerts if a.kind != "instant"][:3]
        if grouped:
            said = "; ".join(f"{a.kind} {iso(a.at)[:16].replace('T', ' ')}Z ({a.size} {'story' if a.size == 1 else 'stories'})" for a in grouped)
            more = sum(1 for a in t.alerts if a.kind != "instant") - len(grouped)
            lines.append(Text(f"      {escape(said)}" + (f"; … {more} more" if more > 0 else ""), "dim"))
    return lines


def _story(indexed):
    from datetime import datetime, timezone

    from wirewatch.model import Story

    when = datetime.fromtimestamp(indexed.at, timezone.utc)
    # Shown, not validated: it was a valid story when it was indexed.
    return Story.model_construct(id=indexed.id, source="", title=indexed.title, body=indexed.body, published=when, received=when)
