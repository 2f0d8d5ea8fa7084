"""Stories as JSON lines, one `Story` record per line (what `wirewatch tail --json` prints)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from wirewatch.errors import InputError
from wirewatch.model import Story


def parse(lines, name: str = "<jsonl>", on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield Story.from_json(line, f"{name}:{lineno}")
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc)


def read(path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    with open(path, encoding="utf-8") as fh:
        yield from parse(fh, str(path), on_error)
