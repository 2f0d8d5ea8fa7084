"""`wirewatch config`: show the effective settings and where each comes from."""

from __future__ import annotations

import os

import typer
from pydantic import SecretStr
from rich.table import Table

from ..settings import Settings
from .common import out, settings


def register(app: typer.Typer) -> None:
    app.command("config")(config)


def config(
    env: bool = typer.Option(False, "--env", help="Print a Markdown table of every WIREWATCH_* variable (for the README)."),
) -> None:
    """Show the settings in effect (secrets hidden) and the variable that sets each."""
    if env:
        out.print("| variable | default | meaning |\n| --- | --- | --- |")
        for name, field in Settings.model_fields.items():
            default = "" if field.default is None else f"`{field.default}`"
            out.print(f"| `WIREWATCH_{name.upper()}` | {default} | {field.description or ''} |")
        return
    s = settings()
    table = Table("variable", "value", "from")
    for name in Settings.model_fields:
        var = f"WIREWATCH_{name.upper()}"
        value = getattr(s, name)
        shown = "********" if isinstance(value, SecretStr) else ("" if value is None else str(value))
        table.add_row(var, shown, "environment" if var in os.environ else "default")
    out.print(table)
