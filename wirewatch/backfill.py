"""Pure: rule ids added to the `rules` of stories already indexed (`wirewatch rules apply --backfill`).

So that a rule's saved search in Kibana (filtered on `rules: <id>`) shows
every story it matches from day one, not only those indexed after it went
live.  The ES reading and writing are the caller's; this module says which
stories change and writes the request for each.

A story's document is written whole again, with the rule ids added, at the
version it has (`_version`, which is the story's version: the index stage
writes with `version_type: external`) and `version_type: external_gte`:

* its version stays the story's, so the index stage still replaces it
  with the story's next version and still refuses one it already holds
  (an update by script would raise `_version` by one and make the index
  stage refuse the story's next version as stale: a correction lost);
* if the index stage wrote a newer version meanwhile, Elasticsearch
  refuses the write (409): the newer version was matched by the workers,
  with the live rules, so it is left as it is.

Idempotent: ids are added only when missing, so a second run writes
nothing; interrupted, each story written so far keeps its ids and a new
run completes the rest.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from typing import Any

from .query.to_es import WORDS, words_of


def missing(matched: Iterable[str], current: Any) -> list[str]:
    """Ids of `matched` that are not in a document's `rules` yet (which may be absent or one string)."""
    have = set(current) if isinstance(current, list) else {current} if isinstance(current, str) else set()
    return [r for r in matched if r not in have]


def with_rules(source: Mapping[str, Any], added: Collection[str], words: bool = True) -> dict[str, Any]:
    """The document with `added` in its `rules` (sorted, as the match stage writes them).

    `words`: the index maps the token fields, which the documents' `_source`
    leaves out (they are indexed only), so they are cut again from title
    and body, as the index stage does, or searches would lose the story.
    """
    current = source.get("rules")
    have = list(current) if isinstance(current, list) else [current] if isinstance(current, str) else []
    doc = {k: v for k, v in source.items() if k != WORDS}
    doc["rules"] = sorted(set(have) | set(added))
    title, body = doc.get("title", ""), doc.get("body", "")
    if words and isinstance(title, str) and isinstance(body, str):
        doc[WORDS] = words_of(title, body)
    return doc


def operations(index: str, doc_id: str, version: int, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `_bulk` lines that write `doc` back at the version it has."""
    return [{"index": {"_index": index, "_id": doc_id, "version": version, "version_type": "external_gte"}}, dict(doc)]


def plan(
    hits: Sequence[Mapping[str, Any]], matched: Sequence[Sequence[str]], words_in: Container[str] | None = None
) -> list[tuple[list[dict[str, Any]], list[str]]]:
    """For a page of hits (with `_index`, `_id`, `_version`, `_source`) and the ids each matched:
    (its bulk lines, the ids added) for each story that gains any.

    `words_in`: the indices that map the token fields (None: all of them);
    a document of any other index is written without them (its strict
    mapping would refuse them).
    """
    out = []
    for hit, ids in zip(hits, matched):
        if not ids:
            continue
        added = missing(ids, hit["_source"].get("rules"))
        if added:
            words = words_in is None or hit["_index"] in words_in
            doc = with_rules(hit["_source"], added, words)
            out.append((operations(hit["_index"], hit["_id"], int(hit["_version"]), doc), added))
    return out


def outcome(item: Mapping[str, Any]) -> tuple[str, str]:
    """One `_bulk` answer item: ('written' | 'newer' | 'failed', reason)."""
    result = next(iter(item.values()))
    status = int(result.get("status", 500))
    if status < 300:
        return "written", result.get("result", "")
    if status == 409:
        return "newer", "a newer version of the story was indexed meanwhile (the workers matched it with the live rules)"
    error = result.get("error") or {}
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}" if isinstance(error, dict) else str(error)
    return "failed", f"HTTP {status} {reason}"
