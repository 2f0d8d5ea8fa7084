"""The whole pipeline on real Kafka and Elasticsearch: files -> producer -> Kafka -> workers -> index.

Workers run as real `wirewatch worker` processes, as they would in production.
"""

from __future__ import annotations

import json
from pathlib import Path

from producers.kafka_sink import StorySink
from producers.sources import read_stories
from support.kafka import topic_records
from support.poll import wait_for
from support.processes import Worker, run
from wirewatch.query import Matcher
from wirewatch.rules import load_rules

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "examples" / "rules.yaml"


def indexed_count(es, index: str) -> int:
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    return es.count(index=index)["count"]


def write_operations(es, index: str) -> int:
    """Every write the index ever took: each one gets the next sequence number of its shard.

    Unlike indexing stats, sequence numbers survive a restart of the node, and
    a write Elasticsearch refuses (a version it already holds) takes none.
    """
    shards = es.indices.stats(index=index, level="shards")["indices"][index]["shards"]
    return sum(copy["seq_no"]["max_seq_no"] + 1 for copies in shards.values() for copy in copies if copy["routing"]["primary"])


def all_docs(es, index: str) -> dict[str, dict]:
    from elasticsearch.helpers import scan

    return {h["_id"]: h["_source"] for h in scan(es, index=index, query={"query": {"match_all": {}}}, _source=["rules", "version"])}


def test_replay_matches_like_the_offline_matcher_and_parks_bad_input(settings, es, corpus_dir, tmp_path):
    inputs = [corpus_dir / "samples" / "xi-putin-moscow-visit.txt", corpus_dir / "reuters21578" / "reut2-000.sgm",
              corpus_dir / "reuters21578" / "reut2-001.sgm"]
    stories = list(read_stories(inputs))
    assert len(stories) == 2001
    rules, problems = load_rules(RULES)
    assert not problems
    offline = Matcher.from_rules(rules)
    expected = {s.id: sorted(offline.match(s.title, s.body)) for s in stories}
    assert sum(1 for r in expected.values() if r) > 50, "the sample rules should match a good share of stories"

    worker = Worker(settings, tmp_path / "worker.log", "--rules", str(RULES))
    try:
        produced = run(settings, "produce", "--no-progress", *map(str, inputs))
        assert produced.returncode == 0, produced.stderr
        with StorySink(settings) as sink:
            sink.send_raw(b"broken-1", b'{"id": "broken-1", "title": "no source field and bad json"')

        wait_for(lambda: indexed_count(es, settings.index) >= len(stories), timeout=240, what="every story indexed")
        docs = all_docs(es, settings.index)
        assert len(docs) == len(stories)
        got = {story_id: sorted(doc.get("rules", [])) for story_id, doc in docs.items()}
        assert got == expected

        dead = wait_for(lambda: topic_records(settings, settings.deadletter_topic), timeout=60, what="a dead letter")
        assert len(dead) == 1
        letter = json.loads(dead[0].value)
        assert letter["stage"] == "match" and letter["key"] == "broken-1"
        assert letter["topic"] == settings.stories_topic and letter["offset"] >= 0
        assert "not a valid Story" in letter["reason"]
        assert letter["payload"].startswith('{"id": "broken-1"')
        assert "parked" in worker.output()
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]


def test_killed_worker_loses_nothing_and_duplicates_nothing(settings, es, corpus_dir, tmp_path):
    inputs = [corpus_dir / "reuters21578" / f"reut2-00{i}.sgm" for i in (2, 3, 4)]
    first = Worker(settings, tmp_path / "first.log", "--rules", str(RULES))
    second = Worker(settings, tmp_path / "second.log")
    try:
        produced = run(settings, "produce", "--no-progress", *map(str, inputs))
        assert produced.returncode == 0, produced.stderr
        wait_for(lambda: indexed_count(es, settings.index) >= 300, timeout=180, what="indexing under way")
        first.kill()  # mid-replay, with un-committed work in flight
        restarted = Worker(settings, tmp_path / "restarted.log")
        try:
            wait_for(lambda: indexed_count(es, settings.index) >= 3000, timeout=300, what="all 3000 stories indexed")
            # The group waits out the killed member's session before the new one is in.
            wait_for(lambda: "[^Worker]: Ready" in restarted.output(), timeout=180, what="the restarted worker in the group")
            docs = all_docs(es, settings.index)
            assert len(docs) == 3000
            assert {d["version"] for d in docs.values()} == {1}
            # Whatever the killed worker wrote but had not committed came again and was refused, not
            # rewritten.  (Whether anything was in that window depends on when the kill lands; the
            # fault suite's worker-kill scenario counts the same across runs.)
            assert write_operations(es, settings.index) == 3000
        finally:
            assert restarted.stop() == 0, restarted.output()[-3000:]
    finally:
        second.stop()


def test_rules_change_live_without_restart(settings, es, corpus_dir, tmp_path):
    v1 = tmp_path / "v1.yaml"
    v1.write_text("rules:\n  - id: cocoa\n    query: cocoa OR title:coffee\n")
    v2 = tmp_path / "v2.yaml"
    v2.write_text("rules:\n  - id: oil\n    query: '\"crude oil\" OR opec'\n")
    before, after = corpus_dir / "reuters21578" / "reut2-005.sgm", corpus_dir / "reuters21578" / "reut2-006.sgm"
    worker = Worker(settings, tmp_path / "worker.log", "--rules", str(v1))
    try:
        assert run(settings, "produce", "--no-progress", str(before)).returncode == 0
        wait_for(lambda: indexed_count(es, settings.index) >= 1000, timeout=180, what="first batch indexed")
        applied = run(settings, "rules", "apply", str(v2))
        assert applied.returncode == 0, applied.stderr
        wait_for(lambda: "rule cocoa removed" in worker.output() and "rule oil updated" in worker.output(), timeout=30,
                 what="the worker to swap rules")
        assert run(settings, "produce", "--no-progress", str(after)).returncode == 0
        wait_for(lambda: indexed_count(es, settings.index) >= 2000, timeout=180, what="second batch indexed")
        docs = all_docs(es, settings.index)
        assert len(docs) == 2000
        for path, rules_file in ((before, v1), (after, v2)):
            matcher = Matcher.from_rules(load_rules(rules_file)[0])
            for story in read_stories([path]):
                assert sorted(docs[story.id].get("rules", [])) == matcher.match(story.title, story.body), story.id
        assert worker.proc.poll() is None, "the same worker process did all of it"
    finally:
        assert worker.stop() == 0
