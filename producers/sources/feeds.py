"""RSS 2.0 and Atom feed items as stories, from a feed already fetched (no network here).

feedparser does the reading, because real feeds are often not well-formed
XML or not in the encoding they declare: it then says so (`bozo`) and reads
them with a lenient parser, and their items are still stories here.  It also
drops a feed's DOCTYPE with its entity declarations before any XML parser
sees them, so a feed cannot expand entities into gigabytes.

A story's id is the item's guid (Atom: id), else its link, else a hash of
its words.  Feeds have no versions: every story is version 1, and
`fingerprint(story)` is what a poller compares to tell an edited item from a
repeated one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import feedparser
from pydantic import ValidationError

from wirewatch.errors import InputError
from wirewatch.model import Story

from .errors import each
from .fingerprint import content_id, fingerprint
from .markup import html_text

__all__ = ["fingerprint", "from_entry", "looks_like_feed", "parse", "read", "stories"]

SOURCE = "feed"
# The first element of the document, past the XML declaration, comments and DOCTYPE.
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_COMMENT_OR_DECLARATION = re.compile(rb"<!--.*?-->|<![^>]*>|<\?.*?\?>", re.S)
_FEED_ROOTS = (b"rss", b"feed", b"RDF")


def parse(data: bytes | str, name: str = "<feed>", on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    """The stories of a feed document's bytes (as fetched: feedparser works out the encoding)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # A stream, never the bytes themselves: feedparser takes a string or bytes
    # that looks like a URL or a file name as one, and would open it.
    yield from stories(feedparser.parse(io.BytesIO(raw)), name, on_error)


def read(path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    with open(path, "rb") as fh:
        data = fh.read()
    yield from parse(data, str(path), on_error)


def looks_like_feed(data: bytes) -> bool:
    """Whether a document's first element is an RSS, RSS 1.0 (RDF) or Atom root, read without parsing it."""
    head = _COMMENT_OR_DECLARATION.sub(b"", data[:4096])
    first = _FIRST_ELEMENT.search(head)
    return first is not None and first.group(2) in _FEED_ROOTS


def stories(
    parsed: feedparser.FeedParserDict,
    name: str = "<feed>",
    on_error: Callable[[InputError], None] | None = None,
    source: str | None = None,
) -> Iterator[Story]:
    """The stories of a feed as `feedparser.parse` returned it, in feed order.

    `source` names the feed's publisher; by default the feed's own title.  A
    document feedparser found no feed in raises InputError; an item that
    cannot be a story goes to `on_error` and the rest are still read.
    """
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        raise InputError(f"not an RSS or Atom feed{f' ({problem})' if problem else ''}", name)
    feed = parsed.get("feed") or {}
    source = source or _feed_source(feed)
    numbered = ((entry, f"{name}[{i}]") for i, entry in enumerate(entries))
    yield from each(numbered, lambda item: from_entry(item[0], feed, item[1], source), on_error)


def from_entry(entry: Any, feed: Any, where: str, source: str = SOURCE) -> Story:
    title = " ".join(_text(entry.get("title_detail") or {"value": entry.get("title", "")}).split())
    body = _body(entry)
    link = (entry.get("link") or "").strip() or None
    if link and urlsplit(link).scheme not in ("http", "https"):
        # feedparser takes a guid without isPermaLink="false" for the link,
        # as RSS says, but "w-1" is nothing to click.
        link = None
    if not title and not body:
        raise InputError("feed item has neither a title nor any text", where)
    item_id = (entry.get("id") or "").strip() or link or content_id(title, body)
    try:
        return Story(
            id=item_id,
            source=source,
            title=title,
            body=body,
            # dict.get: FeedParserDict's own get maps a missing updated_parsed
            # to published_parsed, with a DeprecationWarning each time.
            published=_time(dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")),
            language=_language(entry, feed),
            subjects=_tags(entry),
            url=link,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(f"bad feed item field {loc}: {err['msg']}", where) from exc


def _text(detail: Any) -> str:
    value = str(detail.get("value") or "")
    return html_text(value) if "html" in str(detail.get("type") or "") else value.strip()


def _body(entry: Any) -> str:
    # Full text (content:encoded, Atom content) when the feed has it, else the summary.
    for detail in [*(entry.get("content") or []), entry.get("summary_detail")]:
        if detail:
            text = _text(detail)
            if text:
                return text
    return ""


def _time(parsed: Any) -> datetime | None:
    # feedparser gives UTC struct_times, or None for a date it cannot read
    # (UOL's Portuguese "Seg, 24 Set 2018"): then the story has no time.
    if not parsed:
        return None
    return datetime(*parsed[:6], tzinfo=timezone.utc)


def _language(entry: Any, feed: Any) -> str | None:
    for detail in [*(entry.get("content") or []), entry.get("summary_detail"), entry.get("title_detail")]:
        if detail and detail.get("language"):
            return str(detail["language"])
    return str(feed.get("language") or "").strip() or None


def _tags(entry: Any) -> tuple[str, ...]:
    terms = ((t.get("term") or t.get("label") or "").strip() for t in entry.get("tags") or [])
    return tuple(dict.fromkeys(t for t in terms if t))


def _feed_source(feed: Any) -> str:
    title = _text(feed.get("title_detail") or {"value": feed.get("title", "")})
    if title:
        return title
    host = urlsplit(feed.get("link") or "").hostname
    return host or SOURCE
