"""Stories as JSON lines, one `Story` record per line (what `wirewatch tail --json` prints)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from wirewatch.errors import InputError
from wirewatch.model import Story

from .errors import each


def parse(lines, name: str = "<jsonl>", on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    numbered = ((n, line) for n, line in enumerate(lines, 1) if line.strip())
    yield from each(numbered, lambda item: Story.from_json(item[1], f"{name}:{item[0]}"), on_error)


def read(path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    with open(path, encoding="utf-8") as fh:
        yield from parse(fh, str(path), on_error)
