"""Reuters-21578 SGML (`reut2-*.sgm`): ids and fields as fixed by the watch-query spec."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from wirewatch.errors import InputError
from wirewatch.model import Story

from .errors import each

SOURCE = "reuters-21578"

_ITEM = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.S)
_NEWID = re.compile(r'\bNEWID="(\d+)"')
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_TEXT = re.compile(r"<TEXT\b[^>]*>(.*?)</TEXT>", re.S)
_DROP_FROM_TEXT = re.compile(r"<(TITLE|DATELINE|AUTHOR)>.*?</\1>", re.S)
_DATE = re.compile(r"<DATE>\s*(\d{1,2})-([A-Za-z]{3})-(\d{4})\s+(\d{1,3}):(\d{2}):(\d{2})")
_CODES = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.S) for tag in ("TOPICS", "PLACES")}
_D = re.compile(r"<D>(.*?)</D>", re.S)
_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}


def parse(text: str, name: str = "<sgml>", on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    """Yield the stories of one SGML file's text, in file order.

    An item that cannot be read is reported to `on_error` with the file and
    line where it starts, and skipped.
    """

    def items() -> Iterator[tuple[str, str, str]]:
        line, pos = 1, 0
        for item in _ITEM.finditer(text):
            line += text.count("\n", pos, item.start())
            pos = item.start()
            yield item.group(1), item.group(2), f"{name}:{line}"

    yield from each(items(), lambda item: _story(*item), on_error)


def read(path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    with open(path, encoding="latin-1") as fh:
        text = fh.read()
    yield from parse(text, str(path), on_error)


def _story(attrs: str, inner: str, where: str) -> Story:
    newid = _NEWID.search(attrs)
    if newid is None:
        raise InputError("REUTERS item has no NEWID attribute", where)
    title = _TITLE.search(inner)
    body = _BODY.search(inner)
    if body is not None:
        body_text = body.group(1)
    else:
        # Briefs and unprocessed items carry their words in <TEXT> itself.
        text = _TEXT.search(inner)
        body_text = _DROP_FROM_TEXT.sub("", text.group(1)) if text else ""
    return Story(
        id=f"{SOURCE}:{newid.group(1)}",
        source=SOURCE,
        title=html.unescape(title.group(1)) if title else "",
        body=html.unescape(body_text),
        published=_date(inner),
        language="en",
        subjects=_codes(inner, "TOPICS"),
        places=_codes(inner, "PLACES"),
    )


def _date(inner: str) -> datetime | None:
    m = _DATE.search(inner)
    if m is None:
        return None
    day, month, year, hour, minute, second = m.groups()
    try:
        # A handful of items have a three-digit hour ("016:51"); the last two
        # digits are the hour.
        return datetime(
            int(year), _MONTHS[month.upper()], int(day), int(hour) % 100, int(minute), int(second), tzinfo=timezone.utc
        )
    except (KeyError, ValueError):
        return None


def _codes(inner: str, tag: str) -> tuple[str, ...]:
    m = _CODES[tag].search(inner)
    return tuple(html.unescape(d) for d in _D.findall(m.group(1))) if m else ()
