"""IPTC ninjs JSON stories, versions 1.x (`headline`, `body_text`), 2.x (`headlines`, `bodies`) and 3.x.

3.0 kept 2.x's structure but spells its keys in camelCase (`versionCreated`,
`pubStatus`, `copyrightHolder`, a body's `contentType`) and renamed
`embargoed` to `embargoedUntil`; every key is looked up in both spellings,
so no version number has to be trusted.

A file holds one ninjs object or a JSON list of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from wirewatch.errors import InputError
from wirewatch.model import Story

from .errors import each
from .markup import html_text

SOURCE = "ninjs"


def parse(text: str, name: str = "<ninjs>", on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", f"{name}:{exc.lineno}:{exc.colno}") from exc
    if isinstance(doc, list):
        yield from each(enumerate(doc), lambda item: from_ninjs(item[1], f"{name}[{item[0]}]"), on_error)
    else:
        yield from each([doc], lambda item: from_ninjs(item, name), on_error)


def read(path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    yield from parse(text, str(path), on_error)


def from_ninjs(doc: Any, where: str) -> Story:
    if not isinstance(doc, dict):
        raise InputError(f"a ninjs item must be an object, not {type(doc).__name__}", where)
    uri = doc.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise InputError("ninjs item has no 'uri'", where)
    try:
        return Story(
            id=uri,
            version=_version(doc.get("version")),
            source=str(_get(doc, "copyrightHolder", "copyrightholder") or doc.get("provider") or SOURCE)
            if not isinstance(doc.get("provider"), dict)
            else str(doc["provider"].get("name") or SOURCE),
            title=_headline(doc),
            body=_body(doc),
            published=_time(doc, ("versionCreated", "versioncreated", "firstCreated", "firstcreated"), where),
            language=doc.get("language") or None,
            urgency=doc.get("urgency"),
            pubstatus=_get(doc, "pubStatus", "pubstatus") or "usable",
            embargo=_time(doc, ("embargoedUntil", "embargoed"), where),
            subjects=_names(doc.get("subjects", doc.get("subject"))),
            places=_names(doc.get("places", doc.get("place"))),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(f"bad ninjs field {loc}: {err['msg']}", where) from exc


def _get(doc: dict, *keys: str) -> Any:
    """The first of `keys` that `doc` has a value for (3.x's spelling before 2.x's)."""
    for key in keys:
        if doc.get(key) not in (None, ""):
            return doc[key]
    return None


def _version(value: Any) -> int:
    # ninjs 1.x writes the version as a string; anything that is not a
    # positive whole number counts as the first version.
    try:
        return max(1, int(str(value)))
    except (TypeError, ValueError):
        return 1


def _headline(doc: dict) -> str:
    if isinstance(doc.get("headline"), str):
        return doc["headline"]
    headlines = doc.get("headlines")
    if isinstance(headlines, list) and headlines:
        main = [h for h in headlines if isinstance(h, dict) and h.get("role") in (None, "main", "default")]
        first = (main or headlines)[0]
        if isinstance(first, dict):
            return str(first.get("value", ""))
    return ""


def _body(doc: dict) -> str:
    if isinstance(doc.get("body_text"), str):
        return doc["body_text"]
    for key in ("body_html", "body_xhtml"):
        if isinstance(doc.get(key), str):
            return html_text(doc[key])
    bodies = doc.get("bodies")
    if isinstance(bodies, list):
        bodies = [b for b in bodies if isinstance(b, dict) and isinstance(b.get("value"), str)]
        for b in bodies:
            if str(_get(b, "contentType", "contenttype") or "text/plain").startswith("text/plain"):
                return b["value"]
        for b in bodies:
            if "html" in str(_get(b, "contentType", "contenttype") or ""):
                return html_text(b["value"])
    return _description(doc)


def _description(doc: dict) -> str:
    # Some items carry their words only as a description (NTB's, in the
    # corpus): without it a rule could match the headline alone.
    if isinstance(doc.get("description_text"), str):
        return doc["description_text"]
    if isinstance(doc.get("description_html"), str):
        return html_text(doc["description_html"])
    descriptions = doc.get("descriptions")
    if isinstance(descriptions, list):
        found = [d for d in descriptions if isinstance(d, dict) and isinstance(d.get("value"), str) and d["value"].strip()]
        for d in found:
            kind = str(_get(d, "contentType", "contenttype") or "text/plain")
            return html_text(d["value"]) if "html" in kind else d["value"].strip()
    return ""


def _time(doc: dict, keys: tuple[str, ...], where: str) -> datetime | None:
    field = next((k for k in keys if doc.get(k) not in (None, "")), None)
    if field is None:
        return None
    value = doc[field]
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"'{field}' is not an ISO 8601 time: {value!r}", where) from exc


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for v in value:
        if isinstance(v, dict):
            name = v.get("name") or v.get("code") or v.get("uri")
            if name:
                out.append(str(name))
        elif isinstance(v, str):
            out.append(v)
    return tuple(out)
