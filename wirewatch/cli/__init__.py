"""The `wirewatch` command.  Each subcommand lives in its own module here and
imports its heavy dependencies (Kafka, Faust, Elasticsearch) only when run, so
`wirewatch --help` is instant and never touches a server.
"""

from __future__ import annotations

import typer

from .. import __version__

app = typer.Typer(
    name="wirewatch",
    help=(
        "News-wire alerting: replay or feed wire stories onto Kafka, match them against "
        "watch rules in Faust workers, index them in Elasticsearch and alert people.\n\n"
        "Every setting comes from WIREWATCH_* environment variables; `wirewatch config` "
        "shows them."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wirewatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    pass


# Each module here has `register(app)`; one line a module keeps merges easy.
_COMMANDS = (
    "config",
    "produce",
    "worker",
    "tail",
    "search",
    "match",
    "rules",
    "rules_live",
    "backtest",
    "services",
    "demo",
    "alerts",
    "kibana",
    "ingest",
    "status",
)


def _register() -> None:
    import importlib

    for name in _COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(app)


_register()


def main() -> None:
    app()
