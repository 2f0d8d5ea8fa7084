"""What every subcommand shares: settings, the console, and turning errors into exits."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ConfigError, WireWatchError
from ..settings import Settings, load

console = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


def settings(**overrides) -> Settings:
    try:
        return load(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show WireWatch errors as one red line instead of a traceback; Ctrl-C exits quietly."""
    try:
        yield
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except ConfigError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    except WireWatchError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


def since_option(text: str, option: str = "--since"):
    """The time a --since-like option names (a duration back from now, or a time); ConfigError naming the option."""
    from ..timeparse import parse_since

    try:
        return parse_since(text)
    except (ValueError, OverflowError) as exc:
        raise ConfigError(f"{option} {text!r}: {exc}") from None


def is_tty() -> bool:
    return sys.stdout.isatty()
