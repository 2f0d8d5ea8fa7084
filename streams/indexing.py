"""Pure: what goes into Elasticsearch, and what its answers mean.

One document per story, `_id` = story id.  The story version is the
document's external version (`external_gte`): a redelivered or replayed
version rewrites the same document, and an older version is refused by
Elasticsearch itself, so it never overwrites a newer one, whatever order
workers write in.
"""

from __future__ import annotations

from typing import Any, Literal

from wirewatch.model import MatchedStory

TEMPLATE_VERSION = 1


def index_template(index: str, replicas: int = 0) -> dict[str, Any]:
    """Body of the composable index template for `index` (and `index-*`)."""
    keyword = {"type": "keyword"}
    date = {"type": "date"}
    return {
        "index_patterns": [index, f"{index}-*"],
        "version": TEMPLATE_VERSION,
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas, "refresh_interval": "1s"},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "@timestamp": date,
                    "story_id": keyword,
                    "version": {"type": "integer"},
                    "source": keyword,
                    "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
                    "body": {"type": "text"},
                    "published": date,
                    "received": date,
                    "language": keyword,
                    "urgency": {"type": "byte"},
                    "pubstatus": keyword,
                    "subjects": keyword,
                    "places": keyword,
                    "url": keyword,
                    "rules": keyword,
                    "matched_at": date,
                },
            },
        },
        "_meta": {"managed_by": "wirewatch"},
    }


def document(item: MatchedStory) -> dict[str, Any]:
    s = item.story
    doc: dict[str, Any] = {
        "@timestamp": (s.published or s.received).isoformat(),
        "story_id": s.id,
        "version": s.version,
        "source": s.source,
        "title": s.title,
        "body": s.body,
        "published": s.published.isoformat() if s.published else None,
        "received": s.received.isoformat(),
        "language": s.language,
        "urgency": s.urgency,
        "pubstatus": s.pubstatus,
        "subjects": list(s.subjects),
        "places": list(s.places),
        "url": s.url,
        "rules": list(item.rules),
        "matched_at": item.matched_at.isoformat(),
    }
    return {k: v for k, v in doc.items() if v is not None}


def bulk_operations(items: list[MatchedStory], index: str) -> list[dict[str, Any]]:
    """The body of one `_bulk` request: an action line and a source per story."""
    ops: list[dict[str, Any]] = []
    for item in items:
        ops.append(
            {
                "index": {
                    "_index": index,
                    "_id": item.story.id,
                    "version": item.story.version,
                    "version_type": "external_gte",
                }
            }
        )
        ops.append(document(item))
    return ops


Outcome = Literal["indexed", "stale", "retry", "rejected"]


def outcome(item_result: dict[str, Any]) -> tuple[Outcome, str]:
    """Classify one item of a `_bulk` answer, with a reason for the log.

    409: a newer version is already indexed: nothing to do.  429 and 5xx:
    the cluster is busy or a shard is unavailable: try again.  Any other
    error (a mapping the story does not fit, say) will not go away by
    retrying: park the story.
    """
    result = next(iter(item_result.values()))
    status = int(result.get("status", 500))
    if status < 300:
        return "indexed", result.get("result", "")
    if status == 409:
        return "stale", "a newer version is already indexed"
    error = result.get("error") or {}
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}" if isinstance(error, dict) else str(error)
    if status == 429 or status >= 500:
        return "retry", f"HTTP {status} {reason}"
    return "rejected", f"HTTP {status} {reason}"
