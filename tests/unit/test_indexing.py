from datetime import datetime, timezone

from streams.indexing import bulk_operations, doc_of, index_template, outcome
from wirewatch.model import MatchedStory, Story


def item(version=1, **kw) -> MatchedStory:
    s = Story(id="reuters-21578:5", version=version, source="reuters-21578", title="T", body="B",
              published=datetime(1987, 2, 26, tzinfo=timezone.utc), **kw)
    return MatchedStory(story=s, rules=("b", "a"), matched_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_document_fields_fit_the_mapping():
    doc = doc_of(item(subjects=("cocoa",))).source
    props = index_template("ix")["template"]["mappings"]["properties"]
    assert set(doc) <= set(props)
    assert doc["@timestamp"] == "1987-02-26T00:00:00Z"
    assert doc["rules"] == ["b", "a"] and doc["story_id"] == "reuters-21578:5" and doc["subjects"] == ["cocoa"]
    assert "url" not in doc  # absent fields are left out, not null


def test_bulk_uses_story_id_and_external_version():
    ops = bulk_operations([doc_of(item(3))], "ix")
    assert ops[0] == {"index": {"_index": "ix", "_id": "reuters-21578:5", "version": 3, "version_type": "external"}}
    assert ops[1]["version"] == 3


def test_outcomes():
    assert outcome({"index": {"status": 201, "result": "created"}}) == ("indexed", "created")
    assert outcome({"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}})[0] == "stale"
    assert outcome({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "busy"}}})[0] == "retry"
    assert outcome({"index": {"status": 503, "error": {"type": "unavailable_shards_exception"}}})[0] == "retry"
    kind, reason = outcome({"index": {"status": 400, "error": {"type": "document_parsing_exception", "reason": "bad"}}})
    assert kind == "rejected" and reason == "HTTP 400 document_parsing_exception: bad"


def test_documents_from_the_matched_topic_check_what_the_request_needs():
    import pytest

    from streams.indexing import doc_of_json
    from wirewatch.errors import InputError

    doc = doc_of_json(item(4).to_json())
    assert (doc.id, doc.version) == ("reuters-21578:5", 4)
    assert doc.source["rules"] == ["b", "a"] and doc.source["title"] == "T"
    for bad, why in ((b"{oops", "not JSON"), (b"[]", "no story"), (b'{"story": {"source": "w", "received": "2026-01-01"}}', "story.id"),
                     (b'{"story": {"id": "x", "received": "2026-01-01"}}', "story.source"),
                     (b'{"story": {"id": "x", "source": "w", "version": 0, "received": "2026-01-01"}}', "story.version"),
                     (b'{"story": {"id": "x", "source": "w"}}', "time")):
        with pytest.raises(InputError, match=why):
            doc_of_json(bad, "t.matched[0]@7")


def test_indexed_at_is_stamped_on_every_document():
    ops = bulk_operations([doc_of(item())], "ix", datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc))
    assert ops[1]["indexed_at"] == "2026-12-01T12:00:00+00:00"
    props = index_template("ix")["template"]["mappings"]["properties"]
    assert set(ops[1]) <= set(props)


def test_a_batch_from_the_match_stage_gives_every_story_its_document_and_a_bad_one_its_own_error():
    import orjson

    from streams.indexing import entries_of_message
    from wirewatch.model import MatchedBatch

    good = [item(1).model_copy(update={"story": item().story.model_copy(update={"id": f"s{i}"})}) for i in range(3)]
    bad = {"story": {"id": "", "source": "w", "received": "2026-01-01"}}
    data = MatchedBatch.join([good[0].to_json(), orjson.dumps(bad), good[1].to_json(), good[2].to_json()])
    assert [m.story.id for m in MatchedBatch.from_json(MatchedBatch.join([g.to_json() for g in good])).items] == ["s0", "s1", "s2"]

    entries = entries_of_message(data, "t.matched[1]@9")
    assert [e.doc.id if e.doc else None for e in entries] == ["s0", None, "s1", "s2"]
    assert [e.n for e in entries] == [0, 1, 2, 3]
    failed = entries[1]
    assert "t.matched[1]@9 item 1" in str(failed.error) and "story.id" in str(failed.error)
    assert orjson.loads(failed.payload) == bad  # parked alone, as itself
    assert orjson.loads(entries[2].payload)["story"]["id"] == "s1"  # and so is one Elasticsearch refuses
    assert entries[2].key == b"s1" and failed.key is None  # the story id keys its dead letter

    # A single MatchedStory (written before batches) is still read.
    (single,) = entries_of_message(good[0].to_json(), "t.matched[0]@1")
    assert single.doc.id == "s0" and single.n is None
    (empty,) = entries_of_message(b'{"items": []}', "t.matched[0]@2")
    assert empty.doc is None and "items" in str(empty.error)


def test_a_killed_story_is_flagged_and_replaces_even_the_same_version():
    live = doc_of(item(2))
    assert live.source["withdrawn"] is False and not live.withdrawn
    for kill in ({"pubstatus": "canceled"}, {"signals": ("kill",)}):
        killed = doc_of(item(2, **kill))
        assert killed.source["withdrawn"] is True
        # What search needs is all there: id, time, source, text.
        assert {"story_id", "@timestamp", "source", "title", "body", "version"} <= set(killed.source)
        [action, _] = bulk_operations([killed], "ix")
        assert action["index"]["version_type"] == "external_gte" and action["index"]["version"] == 2
    props = index_template("ix")["template"]["mappings"]["properties"]
    assert props["withdrawn"] == {"type": "boolean"} and props["embargo"] == {"type": "date"}


def test_embargo_is_indexed():
    doc = doc_of(item(1, embargo=datetime(2030, 1, 1, tzinfo=timezone.utc))).source
    assert doc["embargo"] == "2030-01-01T00:00:00Z" and doc["withdrawn"] is False
