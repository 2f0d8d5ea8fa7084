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


def _register() -> None:
    from . import config, produce

    for module in (config, produce):
        module.register(app)


_register()


def main() -> None:
    app()
