"""Stories from one delivered document (a dropped file or a POST body), by kind.  Pure: bytes in.

Every reader reports an unreadable item to `on_error` with where it is and
goes on; a document that cannot be read at all raises InputError.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from wirewatch.errors import InputError
from wirewatch.model import Story

from producers.sources import errors as each_module, feeds, jsonl, newsml, ninjs, plaintext, reuters

from .routing import Kind

OnError = Callable[[InputError], None]


def read(kind: Kind, data: bytes, name: str, on_error: OnError, modified=None) -> list[Story]:
    if kind == "newsml":
        return list(newsml.parse(data, name, on_error))
    if kind == "feed":
        return list(feeds.parse(data, name, on_error))
    if kind == "reuters":
        # The corpus's SGML files are Latin-1; byte for byte, nothing is lost.
        return list(reuters.parse(data.decode("latin-1"), name, on_error))
    text = _utf8(data, name)
    if kind == "ninjs":
        return json_stories(text, name, on_error)
    if kind == "jsonl":
        return list(jsonl.parse(io.StringIO(text), name, on_error))
    if kind == "text":
        return [plaintext.parse(text, name, modified)]
    raise InputError(f"no reader for kind {kind!r}", name)


def json_stories(text: str, name: str, on_error: OnError) -> list[Story]:
    """One JSON object or a list of them, each ninjs (has `uri`) or a WireWatch story (has `id` and `source`)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", f"{name}:{exc.lineno}:{exc.colno}") from exc
    items = list(enumerate(doc)) if isinstance(doc, list) else [(None, doc)]
    if isinstance(doc, list) and not doc:
        raise InputError("an empty list: no stories", name)
    out: list[Story] = []

    def build(item: tuple[int | None, Any]) -> Story:
        index, obj = item
        where = name if index is None else f"{name}[{index}]"
        if isinstance(obj, dict) and "uri" not in obj and "id" in obj:
            try:
                return Story.model_validate(obj)
            except Exception as exc:  # pydantic's ValidationError, summarised like the other readers
                raise InputError(f"not a valid story: {_first_error(exc)}", where) from exc
        return ninjs.from_ninjs(obj, where)

    out.extend(each_module.each(items, build, on_error))
    return out


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        err = errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(document)"
        return f"{loc}: {err['msg']}"
    return str(exc)


def _utf8(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", name) from exc
