"""Poll one RSS/Atom feed: conditional GET, timeouts, redirects, backoff with jitter on errors."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time

import aiohttp
import feedparser

from wirewatch.errors import InputError, ServiceUnavailable

from producers.sources import feeds

from . import schedule
from .config import FeedSource
from .intake import Counters, Intake

log = logging.getLogger("wirewatch.ingest")
USER_AGENT = "WireWatch-ingest/0.1 (+news-wire alerting)"
_REDIRECTS_SEEN: set[str] = set()
_ITEM_INDEX = re.compile(r"\[(\d+)\]$")


class FeedError(Exception):
    """A fetch that gave no feed; `retry_after` when the server said when to come back."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def poll_once(
    source: FeedSource, session: aiohttp.ClientSession, intake: Intake, counters: Counters
) -> None:
    """One poll: fetch (conditionally), read, send what is new.  Raises FeedError or ServiceUnavailable."""
    etag, modified = intake.state.validators(source.name, source.url)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"}
    headers.update(source.headers)
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    try:
        async with session.get(
            source.url, headers=headers, timeout=aiohttp.ClientTimeout(total=source.timeout), allow_redirects=True, max_redirects=10
        ) as response:
            if response.status == 304:
                counters.fetched += 1
                counters.not_modified += 1
                intake.state.touch_source(source.name)
                log.debug("%s: not modified", source.name)
                return
            if response.status != 200:
                retry = schedule.retry_after_seconds(response.headers.get("Retry-After"))
                raise FeedError(f"HTTP {response.status} {response.reason or ''} from {response.url}".strip(), retry)
            body = await _read_at_most(response, source.max_bytes)
            content_type = response.headers.get("Content-Type", "")
            new_etag = response.headers.get("ETag")
            new_modified = response.headers.get("Last-Modified")
            if response.history and str(response.url) not in _REDIRECTS_SEEN:
                # Said once: a feed that moved for good is worth fixing in the sources file.
                _REDIRECTS_SEEN.add(str(response.url))
                log.warning("%s: %s redirects (%d) to %s", source.name, source.url, response.history[0].status, response.url)
    except asyncio.TimeoutError:
        raise FeedError(f"no complete answer from {source.url} within {source.timeout:g} s") from None
    except aiohttp.TooManyRedirects:
        raise FeedError(f"more than 10 redirects from {source.url}") from None
    except aiohttp.ClientError as exc:
        raise FeedError(f"cannot fetch {source.url}: {exc}") from None
    counters.fetched += 1
    errors: list[tuple[InputError, bytes]] = []
    where = f"{source.name} ({source.url})"
    stories = await asyncio.to_thread(_read, body, content_type, where, source.publisher, errors)
    for err, item in errors:
        await intake.park(source.name, err, item, counters)
    tally = await intake.take(
        source.name, stories, counters, provider_versions=False, http=(source.url, new_etag, new_modified)
    )
    if tally.new or tally.updated:
        log.info("%s: %d new, %d updated, %d unchanged", source.name, tally.new, tally.updated, tally.unchanged)


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise FeedError(f"{response.url} is {declared} bytes, more than max_bytes ({limit})")
    parts, size = [], 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise FeedError(f"{response.url} sent more than max_bytes ({limit})")
        parts.append(chunk)
    return b"".join(parts)


def _read(body: bytes, content_type: str, where: str, publisher: str | None, errors: list) -> list:
    """The feed's stories; each unreadable item goes to `errors` with its entry as JSON (what is parked)."""
    # The HTTP charset goes to feedparser with the bytes: it weighs it
    # against the XML declaration as RFC 3023 says, and falls back when both lie.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-type": content_type} if content_type else None)
    if parsed.get("bozo") and parsed.get("entries"):
        log.debug("%s: not well-formed (%s), read leniently", where, parsed.get("bozo_exception"))
    entries = parsed.get("entries") or []

    def on_error(err: InputError) -> None:
        index = _ITEM_INDEX.search(err.where or "")
        entry = entries[int(index.group(1))] if index and int(index.group(1)) < len(entries) else {}
        errors.append((err, json.dumps(entry, default=str, ensure_ascii=False, sort_keys=True).encode()))

    return list(feeds.stories(parsed, where, on_error, source=publisher))


async def run(source: FeedSource, session: aiohttp.ClientSession, intake: Intake, counters: Counters, stop: asyncio.Event) -> None:
    """Poll until `stop` is set; a poll under way finishes (its stories acknowledged) first."""
    while not stop.is_set():
        retry_after = None
        try:
            if not await intake.ready(stop):
                if stop.is_set():
                    break
                raise ServiceUnavailable(intake.sender.unavailable())
            await poll_once(source, session, intake, counters)
            counters.success()
        except FeedError as exc:
            retry_after = exc.retry_after
            counters.failure(str(exc))
            log.error("%s: poll failed (%d in a row): %s", source.name, counters.failures_in_a_row, exc)
        except InputError as exc:
            counters.failure(str(exc))
            log.error("%s: not a feed: %s", source.name, exc)
        except ServiceUnavailable as exc:
            counters.failure(str(exc))
            log.error("%s: %s; the feed is fetched in full again next time", source.name, exc)
        except Exception as exc:  # noqa: BLE001 - one feed's bug must not stop the others
            counters.failure(f"{type(exc).__name__}: {exc}")
            log.exception("%s: unexpected error", source.name)
        delay = schedule.next_delay(source.interval, counters.failures_in_a_row, source.max_backoff, retry_after)
        counters.next_poll = time.time() + delay
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except asyncio.TimeoutError:
            pass
