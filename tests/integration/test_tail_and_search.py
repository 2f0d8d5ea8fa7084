"""`wirewatch tail` against real Kafka and `wirewatch search` against real Elasticsearch."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from producers.kafka_sink import StorySink
from streams import elastic
from streams.indexing import bulk_operations, doc_of
from support.processes import run
from wirewatch import kafka_clients, topics
from wirewatch.model import Hit, Match, MatchedStory, Story

STORIES = [
    Story(id="t:1", source="test", title="Cocoa exports rise", body="Ivory Coast cocoa exports rose in March."),
    Story(id="t:2", source="test", title="OPEC holds output", body="OPEC kept its quotas and output unchanged."),
    Story(id="t:3", source="test", title="Peace talks resume", body="Envoys said peace talks would resume in Geneva."),
]


@pytest.fixture
def filled(settings):
    topics.ensure(settings)
    with StorySink(settings) as sink:
        for story in STORIES:
            sink.send(story)
    producer = kafka_clients.producer(settings, "test")
    for rule, story, word in (("cocoa", STORIES[0], "cocoa"), ("opec", STORIES[1], "OPEC")):
        start = story.body.index(word)
        match = Match(rule_id=rule, story=story, hits=(Hit(field="body", start=start, end=start + len(word)),))
        producer.send(settings.matches_topic, key=rule.encode(), value=match.to_json())
    producer.flush()
    producer.close()
    yield settings
    _delete_topics(settings)


def _delete_topics(settings) -> None:
    admin = kafka_clients.admin(settings)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(f"{settings.topic_prefix}.")]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def test_tail_json_from_the_beginning_to_the_end(filled):
    result = run(filled, "tail", "stories", "-b", "-e", "--json")
    assert result.returncode == 0, result.stderr
    ids = sorted(json.loads(line)["id"] for line in result.stdout.splitlines())
    assert ids == ["t:1", "t:2", "t:3"]


def test_tail_filters_by_rule_and_text(filled):
    by_rule = run(filled, "tail", "matches", "-b", "-e", "-r", "opec")
    assert by_rule.returncode == 0, by_rule.stderr
    assert "OPEC holds output" in by_rule.stdout and "[opec]" in by_rule.stdout
    assert "Cocoa" not in by_rule.stdout
    assert f"{filled.matches_topic}[" in by_rule.stdout  # where each message came from
    by_text = run(filled, "tail", "stories", "-b", "-e", "-g", "GENEVA", "--json")
    assert [json.loads(line)["id"] for line in by_text.stdout.splitlines()] == ["t:3"]


def test_tail_shows_each_story_of_a_matched_batch(filled):
    from wirewatch.model import MatchedBatch

    items = [MatchedStory(story=STORIES[0], rules=("cocoa",)), MatchedStory(story=STORIES[1], rules=("opec",)),
             MatchedStory(story=STORIES[2])]
    producer = kafka_clients.producer(filled, "test")
    producer.send(filled.matched_topic, value=MatchedBatch.join([i.to_json() for i in items]))
    producer.flush()
    producer.close()
    as_json = run(filled, "tail", "matched", "-b", "-e", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [json.loads(line)["story"]["id"] for line in as_json.stdout.splitlines()] == ["t:1", "t:2", "t:3"]
    by_rule = run(filled, "tail", "matched", "-b", "-e", "-r", "opec")
    assert "OPEC holds output" in by_rule.stdout and "Cocoa" not in by_rule.stdout and "1 messages shown" in by_rule.stderr


def test_tail_since_a_time(filled):
    recent = run(filled, "tail", "stories", "--since", "1h", "-e", "--json")
    assert len(recent.stdout.splitlines()) == 3
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    later = run(filled, "tail", "stories", "--since", future, "-e", "--json")
    assert later.returncode == 0 and later.stdout == ""
    bad = run(filled, "tail", "stories", "--since", "last tuesday", "-e")
    assert bad.returncode == 2 and "duration such as 10m" in bad.stderr


def test_tail_of_a_topic_that_does_not_exist_says_which_exist(filled):
    result = run(filled, "tail", "no-such-topic", "-e")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and filled.stories_topic in result.stderr


def test_search_finds_and_highlights(settings):
    from producers.rules_topic import publish
    from wirewatch.rules import Rule

    es = elastic.sync_client(settings)
    try:
        elastic.ensure_index_sync(es, settings.index)
        items = [MatchedStory(story=s, rules=r) for s, r in zip(STORIES, [("cocoa",), ("opec",), ()])]
        es.bulk(operations=bulk_operations([doc_of(i) for i in items], settings.index), refresh=True)
        found = run(settings, "search", "cocoa", "--json")
        assert found.returncode == 0, found.stderr
        assert [json.loads(line)["story_id"] for line in found.stdout.splitlines()] == ["t:1"]
        # A live rule's query, run on what is indexed; --matched: what matched a rule when indexed.
        publish(settings, [Rule("quotas", "title:opec quota*")])
        by_rule = run(settings, "search", "--rule", "quotas", "--json")
        assert [json.loads(line)["story_id"] for line in by_rule.stdout.splitlines()] == ["t:2"], by_rule.stderr
        unknown = run(settings, "search", "--rule", "nope")
        assert unknown.returncode == 2 and "no live rule 'nope'" in unknown.stderr and "quotas" in unknown.stderr
        by_match = run(settings, "search", "--matched", "opec", "--json")
        assert [json.loads(line)["story_id"] for line in by_match.stdout.splitlines()] == ["t:2"]
        shown = run(settings, "search", '"peace talks"')
        assert "1 stories in" in shown.stderr and "Peace talks resume" in shown.stdout and "t:3" in shown.stdout
        # Elasticsearch's own query string, as before the watch-query language.
        es_syntax = run(settings, "search", "--es", "output -quotas", "--json")
        assert [json.loads(line)["story_id"] for line in es_syntax.stdout.splitlines()] == [], es_syntax.stderr
        es_syntax = run(settings, "search", "--es", "peace | cocoa", "--json")
        assert sorted(json.loads(line)["story_id"] for line in es_syntax.stdout.splitlines()) == ["t:1", "t:3"]
        bad = run(settings, "search", "oil OR NOT gas")
        assert bad.returncode == 2 and "none of its words" in bad.stderr
    finally:
        es.indices.delete(index=settings.index, ignore_unavailable=True)
        es.options(ignore_status=404).indices.delete_index_template(name=elastic.template_name(settings.index))
        es.close()
        _delete_topics(settings)
