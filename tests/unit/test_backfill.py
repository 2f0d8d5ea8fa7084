"""Which indexed stories gain rule ids, and the request that writes each back at its own version."""

from streams.indexing import bulk_operations, doc_of
from wirewatch import backfill
from wirewatch.model import MatchedStory, Story
from wirewatch.query.to_es import WORDS, words_of

STORY = Story(id="r:1", version=3, source="reuters", title="Cocoa prices up", body="ICCO buffer stock", received="2026-11-01T08:00:00Z")


def hit(rules=(), version: int = 3) -> dict:
    """A search hit of the story as the index stage wrote it (`_source` without the indexed-only words)."""
    [action, source] = bulk_operations([doc_of(MatchedStory(story=STORY, rules=tuple(rules)))], "stories")
    source = {k: v for k, v in source.items() if k != WORDS}
    return {"_index": "stories-000001", "_id": action["index"]["_id"], "_version": version, "_source": source}


def test_missing_ids():
    assert backfill.missing(["a", "b"], ["b", "x"]) == ["a"]
    assert backfill.missing(["a"], None) == ["a"] and backfill.missing(["a"], "a") == []
    assert backfill.missing([], ["a"]) == []


def test_the_document_gains_the_ids_sorted_and_its_token_fields_again():
    source = hit(["zeta", "legacy"])["_source"]
    doc = backfill.with_rules(source, ["cocoa", "legacy"])
    assert doc["rules"] == ["cocoa", "legacy", "zeta"]
    assert doc[WORDS] == words_of(STORY.title, STORY.body)
    expected = {**source, "rules": ["cocoa", "legacy", "zeta"], WORDS: doc[WORDS]}
    assert doc == expected  # nothing else changed
    assert WORDS not in backfill.with_rules(hit()["_source"], ["cocoa"], words=False)
    assert backfill.with_rules({"title": "x", "rules": "one"}, ["two"])["rules"] == ["one", "two"]


def test_plan_writes_only_stories_that_gain_at_their_own_version_external_gte():
    hits = [hit(), hit(["cocoa"]), hit(["legacy"], version=7), hit()]
    todo = backfill.plan(hits, [["cocoa"], ["cocoa"], ["cocoa", "gold"], []])
    assert [added for _, added in todo] == [["cocoa"], ["cocoa", "gold"]]
    (first, _), (second, _) = todo
    assert first[0] == {"index": {"_index": "stories-000001", "_id": "r:1", "version": 3, "version_type": "external_gte"}}
    assert second[0]["index"]["version"] == 7 and second[1]["rules"] == ["cocoa", "gold", "legacy"]
    assert backfill.plan(hits, [[], [], [], []]) == []
    # An index made by an older template does not map the token fields: its documents go without them.
    [(older, _)] = backfill.plan(hits[:1], [["cocoa"]], words_in={"stories-000002"})
    assert WORDS not in older[1] and older[1]["rules"] == ["cocoa"]
    [(newer, _)] = backfill.plan(hits[:1], [["cocoa"]], words_in={"stories-000001"})
    assert newer[1][WORDS] == words_of(STORY.title, STORY.body)


def test_outcomes():
    assert backfill.outcome({"index": {"status": 200, "result": "updated"}}) == ("written", "updated")
    kind, reason = backfill.outcome({"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}})
    assert kind == "newer" and "newer version" in reason
    kind, reason = backfill.outcome({"index": {"status": 400, "error": {"type": "strict_dynamic_mapping_exception", "reason": "no"}}})
    assert kind == "failed" and reason == "HTTP 400 strict_dynamic_mapping_exception: no"
