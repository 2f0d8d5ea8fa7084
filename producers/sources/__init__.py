"""Turn files into stories.  Pure parsing: no Kafka, no network.

`read_stories(paths)` takes files or folders and yields `Story` records in
order; each unreadable item is handed to `on_error` (with its file and
position) and skipped, so one bad item never stops a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from wirewatch.errors import InputError
from wirewatch.model import Story

from . import feeds, jsonl, newsml, ninjs, plaintext, reuters

SUFFIXES = (".sgm", ".txt", ".json", ".jsonl", ".xml", ".rss", ".atom")


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the story files inside folders named, in sorted order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES))
        else:
            out.append(p)
    return out


def read_file(path: Path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".sgm":
            yield from reuters.read(path, on_error)
        elif suffix == ".txt":
            yield plaintext.read(path)
        elif suffix == ".json":
            yield from ninjs.read(path, on_error)
        elif suffix == ".jsonl":
            yield from jsonl.read(path, on_error)
        elif suffix == ".xml":
            yield from _xml(path, on_error)
        elif suffix in (".rss", ".atom"):
            yield from feeds.read(path, on_error)
        else:
            raise InputError(f"unknown kind of story file {suffix!r}; expected one of {', '.join(SUFFIXES)}", str(path))
    except OSError as exc:
        _report(InputError(f"cannot read: {exc.strerror or exc}", str(path)), on_error)
    except InputError as exc:
        _report(exc, on_error)


def _xml(path: Path, on_error: Callable[[InputError], None] | None) -> Iterator[Story]:
    # .xml is NewsML-G2, unless the document is a feed saved under that name
    # (as feeds often are): its root element says which.
    data = path.read_bytes()
    if feeds.looks_like_feed(data):
        yield from feeds.parse(data, str(path), on_error)
    else:
        yield from newsml.parse(data, str(path), on_error)


def read_stories(
    paths: Iterable[str | Path], on_error: Callable[[InputError], None] | None = None
) -> Iterator[Story]:
    for path in expand(paths):
        yield from read_file(path, on_error)


def _report(exc: InputError, on_error: Callable[[InputError], None] | None) -> None:
    if on_error is None:
        raise exc
    on_error(exc)
