"""Elasticsearch access: one client from settings, the index template, one bulk call.

Errors come out as WireWatch errors (retriable or not); deciding what to do
about them is the indexing stage's business, not this module's.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from wirewatch.errors import PermanentError, ServiceUnavailable, TransientError
from wirewatch.settings import Settings

from .indexing import index_template

log = logging.getLogger(__name__)


def client_options(settings: Settings) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "hosts": [h.strip() for h in settings.es_url.split(",") if h.strip()],
        "request_timeout": 30,
        # Retrying is the stage's decision (see streams.retry), not the client's.
        "max_retries": 0,
        "retry_on_timeout": False,
    }
    if settings.es_api_key:
        opts["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username:
        password = settings.es_password.get_secret_value() if settings.es_password else ""
        opts["basic_auth"] = (settings.es_username, password)
    return opts


def sync_client(settings: Settings):
    from elasticsearch import Elasticsearch

    return Elasticsearch(**client_options(settings))


def async_client(settings: Settings):
    from elasticsearch import AsyncElasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    # orjson reads a bulk answer (an item per story) several times faster
    # than the standard json module the client uses by default.
    fast = OrjsonSerializer()
    serializers = {"application/json": fast, "application/vnd.elasticsearch+json": fast}
    return AsyncElasticsearch(**client_options(settings), serializers=serializers)


def translate(exc: Exception, what: str) -> Exception:
    """An elasticsearch-py exception as a WireWatch error saying what failed."""
    from elasticsearch import ApiError, TransportError

    if isinstance(exc, ApiError):
        status = exc.meta.status if exc.meta else 0
        detail = f"{what}: HTTP {status} {exc.message}"
        if status == 429 or status >= 500:
            return TransientError(detail)
        return PermanentError(detail)
    if isinstance(exc, TransportError):
        return ServiceUnavailable(f"{what}: Elasticsearch not reachable ({exc.message})")
    return exc


def template_name(index: str) -> str:
    return f"{index}-template"


def ensure_index_sync(es, index: str, replicas: int = 0) -> None:
    """Install the template and create the index (harmless if both exist)."""
    from elasticsearch import ApiError, TransportError

    try:
        es.indices.put_index_template(name=template_name(index), **index_template(index, replicas))
        if not es.indices.exists(index=index):
            es.indices.create(index=index)
        else:
            # An index made by an older template gets the fields added since
            # (the mapping is strict, so a new field would be refused).
            properties = index_template(index, replicas)["template"]["mappings"]["properties"]
            es.indices.put_mapping(index=index, properties=properties)
    except ApiError as exc:
        if exc.meta and exc.meta.status == 400 and "resource_already_exists" in str(exc):
            return
        raise translate(exc, f"creating index {index}") from exc
    except TransportError as exc:
        raise translate(exc, f"creating index {index}") from exc


async def bulk(es, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One `_bulk` request; returns the per-item results in request order."""
    from elasticsearch import ApiError, TransportError

    # Lines as bytes: the client's own ndjson encoding (the standard json
    # module) costs more than the rest of building the request.
    lines = [orjson.dumps(op) for op in operations]
    try:
        resp = await es.bulk(operations=lines, refresh=False)
    except (ApiError, TransportError) as exc:
        raise translate(exc, "bulk indexing") from exc
    return resp["items"]
