"""The console channel: alerts printed to the worker's terminal (for demos)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from .render import EmailContent


class ConsoleSender:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=False)

    async def send(self, content: EmailContent, kind: str) -> None:
        style = {"instant": "red", "digest": "cyan", "summary": "yellow"}.get(kind, "white")
        # Text(), not markup: story text must not be read as rich markup.
        self.console.print(Panel(Text(content.text.rstrip()), title=Text(content.subject), title_align="left", border_style=style))
