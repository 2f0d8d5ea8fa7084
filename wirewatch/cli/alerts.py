"""`wirewatch alerts`: preview and test-send a rule's alerts; a local SMTP sink."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import typer

from .common import console, friendly_errors, out, settings

alerts_app = typer.Typer(
    name="alerts",
    help="Preview, test-send and receive alerts.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app)


RULES = typer.Option(..., "--rules", exists=True, dir_okay=False, help="Watch rules YAML file.", show_default=False)
RULE = typer.Option(..., "--rule", help="Id of the rule.", show_default=False)
STORY = typer.Argument(..., exists=True, dir_okay=False, help="Story file: .sgm, .txt, ninjs .json, NewsML-G2 .xml, RSS/Atom .rss/.atom or .jsonl.", show_default=False)
STORY_ID = typer.Option(None, "--story", help="Id of the story, for files that hold several (default: the first).")


@alerts_app.command("preview")
def preview(
    story_file: Path = STORY,
    rules: Path = RULES,
    rule: str = RULE,
    story_id: str = STORY_ID,
    as_json: bool = typer.Option(False, "--json", help='Print one JSON object: {"email": {"subject", "text", "html"}, "slack": <Block Kit payload>}.'),
) -> None:
    """Print the email (text and HTML) and the Slack message this story would produce for the rule.

    Needs no subscribers and no servers.  Matched words are highlighted where the matcher finds them.

    Example:

      wirewatch alerts preview --rules rules.yaml --rule opec ../shared/corpus/samples/xi-putin-moscow-visit.txt
    """
    from alerts import preview as pv

    s = settings()
    with friendly_errors():
        alerting, problems = pv.load_rule(rules, rule)
        for problem in problems:
            console.print(f"[yellow]warning:[/] {problem}")
        alert = pv.alert_for(alerting, pv.load_story(story_file, story_id))
        if not alert.matches[0].hits:
            console.print(f"[yellow]warning:[/] the story does not match rule {rule!r}; this is what it would get if it did")
        result = pv.rendered(alert, s)
    if as_json:
        out.print_json(json.dumps(result))
        return
    from rich.rule import Rule
    from rich.text import Text

    # Text(), not markup: what is printed must be exactly what would be sent.
    email = result["email"]
    for title, body in (
        ("email: subject", email["subject"]),
        ("email: text", email["text"]),
        ("email: HTML", email["html"]),
        ("Slack: Block Kit payload", json.dumps(result["slack"], indent=2, ensure_ascii=False)),
    ):
        out.print(Rule(title))
        out.print(Text(body.rstrip("\n")))


@alerts_app.command("send")
def send(
    story_file: Path = STORY,
    rules: Path = RULES,
    rule: str = RULE,
    story_id: str = STORY_ID,
    timeout: float = typer.Option(30.0, "--timeout", min=0, help="Seconds to keep retrying a subscriber whose server fails for now."),
) -> None:
    """Really send this story's alert to each of the rule's subscribers, and report each outcome.

    Uses the WIREWATCH_SMTP_* and WIREWATCH_SLACK_* settings, like the workers.
    """
    from alerts import preview as pv
    from wirewatch.errors import RuleError

    s = settings()
    with friendly_errors():
        alerting, problems = pv.load_rule(rules, rule)
        if problems:
            raise RuleError(rule, "; ".join(problems))
        outcomes = asyncio.run(pv.send(alerting, pv.load_story(story_file, story_id), s, timeout))
    failed = 0
    for o in outcomes:
        sub = o.subscription
        name = sub.target_id if sub.channel == "slack_webhook" else sub.target
        mark = "[green]ok[/]" if o.ok else "[red]failed[/]"
        failed += not o.ok
        console.print(f"{mark} {sub.channel} {name}: {o.detail}", markup=True, highlight=False)
    if failed:
        raise typer.Exit(1)


@alerts_app.command("smtp-sink")
def smtp_sink(
    port: int = typer.Option(1025, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    maildir: Path = typer.Option(Path(".wirewatch/mail"), "--maildir", help="Maildir folder where each message is saved as a file."),
) -> None:
    """Run a local SMTP server that keeps every message it receives (for demos and tests).

    Point workers at it with WIREWATCH_SMTP_HOST / WIREWATCH_SMTP_PORT; read the mail in MAILDIR/new.
    """
    from alerts import smtpsink

    def show(msg, rcpts) -> None:
        console.print(f"[green]mail[/] to {', '.join(rcpts)}: {msg['Subject']}", markup=True, highlight=False)

    sink = smtpsink.MailSink(maildir=maildir, on_message=show, keep=False)
    with friendly_errors():
        try:
            controller = smtpsink.start(sink, host=host, port=port)
        except OSError as exc:
            from wirewatch.errors import ServiceUnavailable

            raise ServiceUnavailable(f"cannot listen on {host}:{port}: {exc}") from exc
        console.print(f"SMTP sink on {host}:{port}; each message is saved as a file in {maildir / 'new'}")
        try:
            while True:
                time.sleep(3600)
        finally:
            controller.stop()
