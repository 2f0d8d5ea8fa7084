"""How the readers treat one unreadable item: report it and go on, or raise."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from wirewatch.errors import InputError
from wirewatch.model import Story

T = TypeVar("T")
OnError = Callable[[InputError], None] | None


def each(items: Iterable[T], build: Callable[[T], Story], on_error: OnError) -> Iterator[Story]:
    """`build(item)` for every item; an InputError goes to `on_error` (raised when there is none)."""
    for item in items:
        try:
            yield build(item)
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc)
