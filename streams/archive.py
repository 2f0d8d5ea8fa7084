"""Stories already indexed, read back page by page; documents written back whole (backfill).

`pages` reads every story a query selects from one point in time (so pages
stay consistent while the index stage keeps writing), in `sort` order with
the `_shard_doc` tie-break that makes `search_after` exact, and asks for
the next page while the caller works on the last one.  Errors come out as
WireWatch errors that name the Elasticsearch URL and the index.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from wirewatch.errors import ConfigError, PermanentError, ServiceUnavailable, TransientError, WireWatchError
from wirewatch.settings import Settings

from . import elastic

KEEP_ALIVE = "5m"
# Fields a backtest reads of each story: its id is the document's, its time the sort value.
STORY_FIELDS = ["title", "body", "urgency"]


def client(settings: Settings):
    """A client for reading much: orjson to decode pages, and time for a large page on a busy cluster."""
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    fast = OrjsonSerializer()
    options = {**elastic.client_options(settings), "request_timeout": 120}
    return Elasticsearch(**options, serializers={"application/json": fast, "application/vnd.elasticsearch+json": fast})


def problem(exc: Exception, settings: Settings, index: str, what: str) -> Exception:
    """An Elasticsearch failure as a WireWatch error that names the URL and the index."""
    from elasticsearch import ApiError, TransportError

    where = f"Elasticsearch at {settings.es_url}"
    if isinstance(exc, WireWatchError):
        return exc
    if isinstance(exc, ApiError):
        status = exc.meta.status if exc.meta else 0
        if status == 404 and "index_not_found" in str(exc):
            return ConfigError(f"index {index!r} does not exist in {where} (WIREWATCH_INDEX or --index names it)")
        if status in (401, 403):
            return ConfigError(f"{what} in {index!r}: {where} refused the credentials (HTTP {status}; WIREWATCH_ES_USERNAME / _PASSWORD / _API_KEY)")
        detail = f"{what} in {index!r} at {where}: HTTP {status} {exc.message}"
        return TransientError(detail) if status == 429 or status >= 500 else PermanentError(detail)
    if isinstance(exc, TransportError):
        return ServiceUnavailable(f"{where} is not reachable ({exc.message}); is it running? (WIREWATCH_ES_URL)")
    return exc


def since_query(since: datetime | None) -> dict[str, Any]:
    """Stories indexed with a time from `since` on (every one for None), except withdrawn ones: they alert nobody."""
    from .indexing import NOT_WITHDRAWN

    if since is None:
        return NOT_WITHDRAWN
    return {"bool": {"filter": [{"range": {"@timestamp": {"gte": since.isoformat()}}}, NOT_WITHDRAWN]}}


def count(es, index: str, query: dict[str, Any]) -> int:
    return int(es.count(index=index, query=query)["count"])


def pages(
    es,
    index: str,
    query: dict[str, Any],
    *,
    sort: Sequence[dict[str, Any]] = (),
    size: int = 2000,
    source: Sequence[str] | bool = True,
    version: bool = False,
) -> Iterator[list[dict[str, Any]]]:
    """Every hit of `query` as pages of up to `size` hits, in `sort` order, from one point in time.

    Each hit has `_id`, `_source` (the fields in `source`), `sort` and, with
    `version`, `_version`.  The next page is fetched in a thread while the
    caller handles the last one; Elasticsearch works on it meanwhile.
    """
    pit = es.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]
    pool = ThreadPoolExecutor(1, thread_name_prefix="wirewatch-archive")
    order = [*sort, {"_shard_doc": "asc"}]

    def fetch(pit_id: str, after: list | None) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "sort": order, "size": size, "source": source if isinstance(source, bool) else list(source),
                                "track_total_hits": False}
        if version:
            body["version"] = True
        if after is not None:
            body["search_after"] = after
        return es.search(pit={"id": pit_id, "keep_alive": KEEP_ALIVE}, **body)

    ahead: Future | None = pool.submit(fetch, pit, None)
    try:
        while ahead is not None:
            resp = ahead.result()
            pit = resp.get("pit_id", pit)
            hits = resp["hits"]["hits"]
            ahead = pool.submit(fetch, pit, hits[-1]["sort"]) if len(hits) == size else None
            if hits:
                yield hits
    finally:
        if ahead is not None:
            ahead.cancel()
        pool.shutdown(wait=True)
        with contextlib.suppress(Exception):
            es.close_point_in_time(id=pit)


def bulk(es, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One `_bulk` request (refreshing nothing); the per-item results in request order."""
    if not operations:
        return []
    return es.bulk(operations=operations, refresh=False)["items"]


def indices_with_field(es, index: str, name: str) -> set[str]:
    """The indices behind `index` (an index, alias or pattern) that map the field `name` (an older template may not)."""
    mappings = es.indices.get_mapping(index=index)
    return {i for i, m in mappings.items() if name in (m.get("mappings", {}).get("properties") or {})}
