"""Plain-text stories (`.txt`, UTF-8): first non-blank line is the headline."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from wirewatch.errors import InputError
from wirewatch.model import Story

SOURCE = "file"


def parse(text: str, name: str, modified: datetime | None = None) -> Story:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            return Story(
                id=f"{SOURCE}:{os.path.basename(name)}",
                source=SOURCE,
                title=line.strip(),
                body="\n".join(lines[i + 1 :]),
                published=modified,
            )
    raise InputError("story is empty: no headline line", name)


def read(path) -> Story:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", str(path)) from exc
    modified = datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc)
    return parse(text, str(path), modified)
