"""Pure: what goes into Elasticsearch, and what its answers mean.

One document per story, `_id` = story id.  The story version is the
document's external version (`external`): Elasticsearch itself refuses a
version that is not newer than the one it holds, so a redelivered or
replayed story is written once, not again, and an older version never
overwrites a newer one, whatever order workers write in.

A killed or withdrawn story (`Story.withdrawn`) is indexed like any version,
with `withdrawn: true`, and replaces the version before it even when the
agency sent the kill with the same version number (`external_gte`): search
hides it by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

import orjson

from wirewatch.errors import InputError
from wirewatch.model import MatchedStory, is_withdrawn
from wirewatch.query.to_es import WORDS, words_mapping, words_of

# 3: `words`, each field's tokens as the watch-query spec cuts them, for
# `wirewatch search` (see wirewatch.query.to_es).  4: `withdrawn`, `embargo`.
TEMPLATE_VERSION = 4

# A killed or withdrawn story: flagged by the index stage, or (indexed by an
# older WireWatch, without the flag) canceled.  Searches and backtests leave
# these out unless asked.
WITHDRAWN = ({"term": {"withdrawn": True}}, {"term": {"pubstatus": "canceled"}})
NOT_WITHDRAWN = {"bool": {"must_not": list(WITHDRAWN)}}


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
                # Indexed only: the tokens can be cut again from title and body.
                "_source": {"excludes": [WORDS]},
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
                    "withdrawn": {"type": "boolean"},
                    "embargo": date,
                    "subjects": keyword,
                    "places": keyword,
                    "url": keyword,
                    "rules": keyword,
                    "matched_at": date,
                    "indexed_at": date,
                    WORDS: words_mapping(),
                },
            },
        },
        "_meta": {"managed_by": "wirewatch"},
    }


@dataclass(frozen=True)
class Doc:
    """One story as an index document: `_id`, external version, source."""

    id: str
    version: int
    source: dict[str, Any]
    withdrawn: bool = False


_STORY_FIELDS = ("title", "body", "published", "received", "language", "urgency", "pubstatus", "embargo", "subjects", "places", "url")


def doc_of_json(data: bytes | str, where: str | None = None) -> Doc:
    """The index document of one MatchedStory as JSON (see `doc_of_record`)."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not a valid MatchedStory: not JSON ({exc})", where) from exc
    return doc_of_record(record, where)


class Entry(NamedTuple):
    """One story of a matched-topic message: its document, or why it has none."""

    doc: Doc | None
    error: InputError | None
    # Its place in a batch (None: the message is a single story), and its
    # JSON, to park it alone (Elasticsearch may still refuse a document).
    n: int | None = None
    payload: bytes | None = None
    # The story id, as the key of a dead letter, when the item has one.
    key: bytes | None = None


def entries_of_message(data: bytes | str, where: str | None = None) -> list[Entry]:
    """The documents of a message of the matched topic, a MatchedBatch or one MatchedStory, in order.

    One story that cannot be indexed is an error in its place, naming its
    item, and the rest of its batch is indexed.
    """
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [Entry(None, InputError(f"not a valid MatchedStory: not JSON ({exc})", where))]
    if not (isinstance(record, dict) and "items" in record):
        try:
            return [Entry(doc_of_record(record, where), None)]
        except InputError as exc:
            return [Entry(None, exc)]
    items = record["items"]
    if not isinstance(items, list) or not items:
        return [Entry(None, InputError("not a valid MatchedBatch: items must be a non-empty list", where))]
    out: list[Entry] = []
    for n, item in enumerate(items):
        key = _story_key(item)
        try:
            out.append(Entry(doc_of_record(item, f"{where} item {n}" if where else f"item {n}"), None, n, orjson.dumps(item), key))
        except InputError as exc:
            out.append(Entry(None, exc, n, orjson.dumps(item), key))
    return out


def _story_key(item: Any) -> bytes | None:
    story = item.get("story") if isinstance(item, dict) else None
    story_id = story.get("id") if isinstance(story, dict) else None
    return story_id.encode() if isinstance(story_id, str) and story_id else None


def doc_of_record(record: Any, where: str | None = None) -> Doc:
    """The index document of a MatchedStory as decoded from the matched topic.

    Built from the JSON without validating the whole record again: the
    match stage wrote it from a valid Story, and the index's strict mapping
    refuses a field of the wrong type (that story is then parked).  What
    the request itself needs is checked here: a story with an id, a
    source, a version and a time.
    """
    story = record.get("story") if isinstance(record, dict) else None
    if not isinstance(story, dict):
        raise InputError("not a valid MatchedStory: no story", where)
    story_id, source, version = story.get("id"), story.get("source"), story.get("version", 1)
    if not isinstance(story_id, str) or not story_id:
        raise InputError("not a valid MatchedStory: story.id must be non-empty text", where)
    if not isinstance(source, str) or not source:
        raise InputError("not a valid MatchedStory: story.source must be non-empty text", where)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError("not a valid MatchedStory: story.version must be a whole number from 1", where)
    when = story.get("published") or story.get("received")
    if not isinstance(when, str):
        raise InputError("not a valid MatchedStory: story.received must be a time", where)
    doc: dict[str, Any] = {"@timestamp": when, "story_id": story_id, "version": version, "source": source}
    for name in _STORY_FIELDS:
        value = story.get(name)
        if value is not None:
            doc[name] = value
    title, body = doc.get("title", ""), doc.get("body", "")
    if isinstance(title, str) and isinstance(body, str):
        doc[WORDS] = words_of(title, body)
    withdrawn = is_withdrawn(doc.get("pubstatus"), story.get("signals"))
    doc["withdrawn"] = withdrawn
    doc["rules"] = record.get("rules") or []
    if record.get("matched_at") is not None:
        doc["matched_at"] = record["matched_at"]
    return Doc(story_id, version, doc, withdrawn)


def doc_of(item: MatchedStory) -> Doc:
    return doc_of_json(item.to_json())


def bulk_operations(docs: list[Doc], index: str, indexed_at: datetime | None = None) -> list[dict[str, Any]]:
    """The body of one `_bulk` request: an action line and a source per story."""
    # When the worker sent it to Elasticsearch (the answer follows within a bulk round trip).
    stamp = indexed_at.isoformat() if indexed_at else None
    ops: list[dict[str, Any]] = []
    for doc in docs:
        # A kill replaces its story even when sent with the version it kills.
        kind = "external_gte" if doc.withdrawn else "external"
        ops.append({"index": {"_index": index, "_id": doc.id, "version": doc.version, "version_type": kind}})
        ops.append({**doc.source, "indexed_at": stamp} if stamp else doc.source)
    return ops


Outcome = Literal["indexed", "stale", "retry", "rejected"]


def outcome(item_result: dict[str, Any]) -> tuple[Outcome, str]:
    """Classify one item of a `_bulk` answer, with a reason for the log.

    409: this version or a newer one is already indexed: nothing to do.  429 and 5xx:
    the cluster is busy or a shard is unavailable: try again.  Any other
    error (a mapping the story does not fit, say) will not go away by
    retrying: park the story.
    """
    result = next(iter(item_result.values()))
    status = int(result.get("status", 500))
    if status < 300:
        return "indexed", result.get("result", "")
    if status == 409:
        return "stale", "this version or a newer one is already indexed"
    error = result.get("error") or {}
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}" if isinstance(error, dict) else str(error)
    if status == 429 or status >= 500:
        return "retry", f"HTTP {status} {reason}"
    return "rejected", f"HTTP {status} {reason}"
