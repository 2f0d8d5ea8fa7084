"""HTTP push: agencies POST ninjs, NewsML-G2 or story JSON; 202 only once Kafka has every story.

    POST /stories   one document: a ninjs object or a list of them, a story
                    JSON object or list, or a NewsML-G2 newsItem/newsMessage
    GET  /healthz   200 while Kafka is reachable, 503 when not
    GET  /status    every source's counters, as JSON

A batch is all or nothing on input: one bad item and nothing is sent, the
answer (400) lists every problem.  Kafka away: 503 with Retry-After, and
the sender tries again; what was already acknowledged is not sent twice.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable

from aiohttp import web

from wirewatch.errors import InputError, ServiceUnavailable

from . import documents
from .config import PushSource
from .intake import Counters, Intake

log = logging.getLogger("wirewatch.ingest")
RETRY_AFTER_S = 10


def app(source: PushSource, intake: Intake, counters: Counters, token: str | None, status: Callable[[], dict]) -> web.Application:
    async def stories(request: web.Request) -> web.Response:
        if token is not None and not _authorised(request.headers.get("Authorization", ""), token):
            counters.failure(f"refused a POST from {request.remote}: no valid bearer token")
            return _answer(401, {"error": "a valid bearer token is required (Authorization: Bearer ...)"},
                           {"WWW-Authenticate": 'Bearer realm="wirewatch-ingest"'})
        counters.fetched += 1
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            counters.failure(f"POST from {request.remote} larger than {source.max_bytes} bytes")
            return _answer(413, {"error": f"the body is larger than {source.max_bytes} bytes; send smaller batches"})
        where = f"{source.name}: POST from {request.remote}"
        errors: list[InputError] = []
        try:
            parsed = await asyncio.to_thread(_read, body, request.content_type, where, errors)
        except InputError as exc:
            counters.failure(str(exc))
            log.warning("%s", exc)
            return _answer(_status_for(exc), {"error": str(exc)})
        if errors:
            for err in errors:
                counters.failure(str(err))
                log.warning("refused: %s", err)
            return _answer(400, {"error": f"{len(errors)} item(s) cannot be read; nothing was sent",
                                 "problems": [str(e) for e in errors]})
        if not parsed:
            # A NewsML-G2 message of pictures or video only: nothing to alert on, and nothing wrong with it.
            counters.success()
            return _answer(202, {"accepted": 0, "new": 0, "updated": 0, "unchanged": 0, "stale": 0, "sent": [],
                                 "note": "no text items in the document"})
        if source.publisher:
            parsed = [s.model_copy(update={"source": source.publisher}) for s in parsed]
        # Shielded: past the timeout the sender gets its 503, and the sends
        # still under way are remembered when acknowledged, so its retry
        # finds them already sent.
        sending = asyncio.ensure_future(intake.take(source.name, parsed, counters, provider_versions=True))
        sending.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved: no "never retrieved" noise
        try:
            tally = await asyncio.wait_for(asyncio.shield(sending), source.ack_timeout)
        except asyncio.TimeoutError:
            message = f"Kafka did not acknowledge within {source.ack_timeout:g} s"
            counters.failure(message)
            log.error("%s: answered 503: %s", source.name, message)
            return _answer(503, {"error": f"not accepted: {message}; send it again later"}, {"Retry-After": str(RETRY_AFTER_S)})
        except ServiceUnavailable as exc:
            counters.failure(str(exc))
            log.error("%s: answered 503: %s", source.name, exc)
            return _answer(503, {"error": f"not accepted: {exc}; send it again later"}, {"Retry-After": str(RETRY_AFTER_S)})
        counters.success()
        return _answer(202, {
            "accepted": len(parsed), "new": tally.new, "updated": tally.updated,
            "unchanged": tally.unchanged, "stale": tally.stale,
            "sent": [{"id": s.id, "version": s.version, "at": at} for s, at in tally.sent],
        })

    async def healthz(_request: web.Request) -> web.Response:
        if intake.sender.up:
            return _answer(200, {"status": "ok", "kafka": "up"})
        return _answer(503, {"status": "degraded", "kafka": intake.sender.problem or "down"})

    async def status_page(_request: web.Request) -> web.Response:
        return _answer(200, status())

    application = web.Application(client_max_size=source.max_bytes)
    application.router.add_post("/stories", stories)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/status", status_page)
    return application


def _read(body: bytes, content_type: str, where: str, errors: list[InputError]) -> list:
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise InputError("the body is empty", where)
    # What the body is decides, not what its Content-Type claims (senders get that wrong).
    if text.startswith(b"<"):
        from .routing import kind_of

        kind = kind_of("post.xml", text)
        if kind != "newsml":
            raise _Unsupported("only NewsML-G2 (newsItem or newsMessage) is taken as XML", where)
        return documents.read("newsml", body, where, errors.append)
    if text.startswith((b"{", b"[")) or "json" in content_type:
        return documents.read("ninjs", body, where, errors.append)
    raise _Unsupported(f"cannot read a {content_type or 'body'} of this kind: send ninjs or story JSON, or NewsML-G2 XML", where)


class _Unsupported(InputError):
    pass


def _status_for(exc: InputError) -> int:
    return 415 if isinstance(exc, _Unsupported) else 400


def _authorised(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _answer(status: int, doc: dict, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(doc, ensure_ascii=False, default=str), content_type="application/json", headers=headers)
