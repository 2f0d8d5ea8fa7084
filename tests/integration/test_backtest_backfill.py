"""`wirewatch rules backtest` and `rules apply --backfill` on a real Elasticsearch, the matcher as oracle.

3,000 Reuters-21578 stories and the Xi/Putin sample are indexed with the
index stage's own documents (`streams.indexing`), into an index of the
test's own; some already carry rule ids, as stories the workers matched
would.  The commands run as processes, configured by environment.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from support import names
from support.processes import run

from alerts.simulate import simulate
from alerts.subscriptions import parse
from producers.sources import read_stories
from streams import archive, elastic
from streams.indexing import bulk_operations, doc_of
from wirewatch import backfill
from wirewatch.model import MatchedStory, Story
from wirewatch.query import Matcher
from wirewatch.rules import load_rules
from wirewatch.settings import Settings

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rules.yaml"
REUTERS = 3000


@pytest.fixture(scope="module")
def rules():
    found, problems = load_rules(EXAMPLES)
    assert not problems
    return found


@pytest.fixture(scope="module")
def corpus(corpus_dir) -> list[Story]:
    reuters = [corpus_dir / "reuters21578" / f"reut2-00{i}.sgm" for i in range(3)]
    stories = list(itertools.islice(read_stories(reuters), REUTERS))
    return stories + list(read_stories([corpus_dir / "samples" / "xi-putin-moscow-visit.txt"]))


@pytest.fixture(scope="module")
def oracle(rules, corpus) -> dict[str, list[str]]:
    """Story id -> the example rules it matches, by the matcher itself."""
    m = Matcher.from_rules(rules)
    return {s.id: m.match(s.title, s.body) for s in corpus}


def indexed_before(i: int, story: Story, oracle) -> tuple[str, ...]:
    """The `rules` a story has before any backfill: some none, some a retired rule, some already all of theirs."""
    if i % 10 == 0:
        return ("legacy", *oracle[story.id])
    if i % 5 == 0:
        return ("legacy",)
    return ()


def fill(es, index: str, corpus: list[Story], oracle) -> None:
    elastic.ensure_index_sync(es, index)
    for at in range(0, len(corpus), 500):
        chunk = corpus[at : at + 500]
        docs = [doc_of(MatchedStory(story=s, rules=indexed_before(at + n, s, oracle))) for n, s in enumerate(chunk)]
        resp = es.bulk(operations=bulk_operations(docs, index))
        assert not resp["errors"], [i for i in resp["items"] if i["index"].get("error")][:3]
    es.indices.refresh(index=index)


def drop(es, index: str) -> None:
    es.options(ignore_status=404).indices.delete(index=index)
    es.options(ignore_status=404).indices.delete_index_template(name=elastic.template_name(index))


@pytest.fixture(scope="module")
def indexed(es_url, corpus, oracle, tmp_path_factory):
    """A module-wide index for the backtests (which write nothing)."""
    name = names.fresh("test-backtest-")
    s = Settings(index=name, topic_prefix=name, app_id=name, es_url=es_url, home=tmp_path_factory.mktemp("home"))
    es = elastic.sync_client(s)
    try:
        fill(es, name, corpus, oracle)
        yield s
    finally:
        drop(es, name)
        es.close()


def matched_in_order(corpus, oracle, rule_id: str) -> list[Story]:
    return sorted((s for s in corpus if rule_id in oracle[s.id]), key=lambda s: (s.published or s.received))


# -- backtest ------------------------------------------------------------------------------


def test_backtest_json_is_what_the_matcher_and_the_alert_policy_say(indexed, rules, corpus, oracle):
    result = run(indexed, "rules", "backtest", str(EXAMPLES), "--since", "100000d", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["index"] == indexed.index and doc["stories"] == len(corpus) and doc["stories_per_second"] > 0
    assert [r["id"] for r in doc["rules"]] == [r.id for r in rules]
    assert sum(r["matches"] for r in doc["rules"]) > 50
    for got, rule in zip(doc["rules"], rules):
        want = matched_in_order(corpus, oracle, rule.id)
        assert got["matches"] == len(want), rule.id
        days: dict[str, int] = {}
        for s in want:
            day = (s.published or s.received).date().isoformat()
            days[day] = days.get(day, 0) + 1
        assert got["per_day"] == days, rule.id
        assert {x["id"] for x in got["samples"]} <= {s.id for s in want} and len(got["samples"]) == min(3, len(want))
        if want:
            assert got["samples"][0]["id"] == want[-1].id  # newest first
            assert all(x["hits"] and "**" in x["title_marked"] + "".join(x["body_marked"]) for x in got["samples"])
        # What each subscriber would have received is the alert policy's verdict on those matches.
        expected = simulate(parse(rule.id, rule.to_dict()), [(s.id, s.urgency, (s.published or s.received).timestamp()) for s in want])
        assert len(got["subscribers"]) == len(expected)
        for sub, tally in zip(got["subscribers"], expected):
            assert sub["target"] == tally.subscription.target_id
            assert (sub["instant"], sub["held"], sub["summaries"], sub["digests"], sub["digest_stories"], sub["quiet_hours_held"]) == (
                tally.count("instant"), tally.held, tally.count("summary"), tally.count("digest"),
                tally.stories_in("digest"), tally.quiet_held,
            ), (rule.id, sub["target"])


def test_backtest_prints_the_table_chart_samples_and_alerts(indexed, corpus, oracle):
    result = run(indexed, "rules", "backtest", str(EXAMPLES), "--since", "100000d", COLUMNS="120")
    assert result.returncode == 0, result.stderr
    out, err = result.stdout, " ".join(result.stderr.split())
    assert f"{len(corpus):,} stories in {indexed.index}" in err and "stories/s" in err
    assert "per rule" in out and "busiest day" in out and "alerts" in out
    for rule_id in ("interest-rates", "coffee-quotas", "xi-putin"):
        count = sum(1 for ids in oracle.values() if rule_id in ids)
        assert any(line.split()[:2] == [rule_id, f"{count:,}"] for line in out.splitlines()), rule_id
    assert "│" in out and "matches per" in out  # the chart
    newest_coffee = matched_in_order(corpus, oracle, "coffee-quotas")[-1]
    assert " ".join(newest_coffee.title.split())[:40] in out
    assert "→ email commodities@example.com:" in out and "digests (" in out
    assert "held by quiet hours" in out or "gold-price" not in out.split("per rule")[0]
    assert "Traceback" not in result.stderr


def test_backtest_one_rule_and_its_errors(indexed, es_url):
    one = run(indexed, "rules", "backtest", str(EXAMPLES), "--rule", "xi-putin", "--since", "100000d", "--json")
    assert one.returncode == 0, one.stderr
    [rule] = json.loads(one.stdout)["rules"]
    assert rule["id"] == "xi-putin" and rule["matches"] == 1 and rule["samples"][0]["title_marked"].count("**") >= 2

    unknown = run(indexed, "rules", "backtest", str(EXAMPLES), "--rule", "no-such-rule")
    assert unknown.returncode == 2 and "no rule 'no-such-rule' in" in unknown.stderr and "Traceback" not in unknown.stderr

    missing = run(indexed, "rules", "backtest", str(EXAMPLES), WIREWATCH_INDEX="test-backtest-no-such-index")
    said = " ".join(missing.stderr.split())
    assert missing.returncode == 2 and "'test-backtest-no-such-index' does not exist" in said and es_url in said
    assert "Traceback" not in missing.stderr

    away = run(indexed, "rules", "backtest", str(EXAMPLES), WIREWATCH_ES_URL="http://127.0.0.1:1")
    said = " ".join(away.stderr.split())
    assert away.returncode == 1 and "http://127.0.0.1:1 is not reachable" in said and "Traceback" not in away.stderr

    nothing = run(indexed, "rules", "backtest", str(EXAMPLES), "--since", "2100-01-01")
    assert nothing.returncode == 0 and "no stories in" in nothing.stderr


# -- backfill ------------------------------------------------------------------------------


def documents(es, index: str) -> dict[str, dict]:
    """Every document's rules, _version and _seq_no."""
    from elasticsearch import helpers

    found = helpers.scan(es, index=index, query={"query": {"match_all": {}}}, _source=["rules"], version=True, seq_no_primary_term=True, size=1000)
    return {h["_id"]: {"rules": h["_source"].get("rules", []), "version": h["_version"], "seq_no": h["_seq_no"]} for h in found}


def test_backfill_adds_matching_rule_ids_once_and_keeps_story_versions(settings, corpus, oracle, rules):
    s = settings
    es = elastic.sync_client(s)
    try:
        fill(es, s.index, corpus, oracle)
        before = documents(es, s.index)

        dry = run(s, "rules", "apply", str(EXAMPLES), "--dry-run", "--backfill", "100000d")
        assert dry.returncode == 0, dry.stderr
        assert documents(es, s.index) == before  # nothing written
        # Stories 0, 10, 20 … already have their ids; every other matched story gains them.
        gaining = [s_.id for i, s_ in enumerate(corpus) if oracle[s_.id] and i % 10 != 0]
        assert f"{len(gaining):,} would gain rule ids" in " ".join(dry.stderr.split())

        applied = run(s, "rules", "apply", str(EXAMPLES), "--backfill", "100000d")
        assert applied.returncode == 0, applied.stderr
        assert f"{len(gaining):,} gained rule ids" in " ".join(applied.stderr.split())
        es.indices.refresh(index=s.index)
        after = documents(es, s.index)
        for i, story in enumerate(corpus):
            doc = after[story.id]
            had = indexed_before(i, story, oracle)
            assert doc["rules"] == (sorted(set(had) | set(oracle[story.id])) if story.id in gaining else list(had)), story.id
            assert doc["version"] == before[story.id]["version"] == story.version  # still the story's version
            assert (doc["seq_no"] == before[story.id]["seq_no"]) == (story.id not in gaining)
        # Searchable as before: the token fields were written again with the document.
        found = run(s, "search", "title:cocoa", "--all", "--json")
        assert {json.loads(x)["story_id"] for x in found.stdout.splitlines()} == {x for x, ids in oracle.items() if "cocoa" in ids}

        again = run(s, "rules", "apply", str(EXAMPLES), "--backfill", "100000d")
        assert again.returncode == 0, again.stderr
        assert "0 gained rule ids" in " ".join(again.stderr.split())
        es.indices.refresh(index=s.index)
        assert documents(es, s.index) == after  # idempotent: not one write

        # As if interrupted half-way: half the stories written, half not; a new run completes it.
        half = gaining[::2]
        for story_id in half:
            es.index(index=s.index, id=story_id, document={**es.get(index=s.index, id=story_id)["_source"], "rules": before[story_id]["rules"]},
                     version=after[story_id]["version"], version_type="external_gte")
        es.indices.refresh(index=s.index)
        completed = run(s, "rules", "apply", str(EXAMPLES), "--backfill", "100000d")
        assert completed.returncode == 0, completed.stderr
        assert f"{len(half):,} gained rule ids" in " ".join(completed.stderr.split())
        es.indices.refresh(index=s.index)
        assert {k: v["rules"] for k, v in documents(es, s.index).items()} == {k: v["rules"] for k, v in after.items()}

        # The index stage still replaces a backfilled story with its next version, and still refuses an old one.
        story = next(x for x in corpus if x.id in gaining)
        newer = story.model_copy(update={"version": story.version + 1, "title": story.title + " (corrected)"})
        ops = bulk_operations([doc_of(MatchedStory(story=newer, rules=("cocoa",)))], s.index)
        [item] = es.bulk(operations=ops)["items"]
        assert item["index"]["status"] in (200, 201), item
        stale = bulk_operations([doc_of(MatchedStory(story=story))], s.index)
        [item] = es.bulk(operations=stale)["items"]
        assert item["index"]["status"] == 409
    finally:
        drop(es, s.index)
        es.close()


def test_a_backfill_write_loses_to_a_newer_version_indexed_meanwhile(es_url, corpus, tmp_path):
    name = names.fresh("test-backfill-race-")
    s = Settings(index=name, es_url=es_url, home=tmp_path)
    es = archive.client(s)
    try:
        elastic.ensure_index_sync(es, name)
        story = next(x for x in corpus if "cocoa" in x.title.lower())
        es.bulk(operations=bulk_operations([doc_of(MatchedStory(story=story))], name), refresh=True)
        [hits] = list(archive.pages(es, name, {"match_all": {}}, source=True, version=True))
        [(ops, added)] = backfill.plan(hits, [["cocoa"]])
        assert added == ["cocoa"] and ops[0]["index"]["version"] == story.version
        # The index stage writes the story's next version between the read and the write.
        newer = story.model_copy(update={"version": story.version + 1})
        es.bulk(operations=bulk_operations([doc_of(MatchedStory(story=newer, rules=("other",)))], name), refresh=True)
        [item] = archive.bulk(es, ops)
        assert backfill.outcome(item)[0] == "newer"
        assert es.get(index=name, id=story.id)["_source"]["rules"] == ["other"]
    finally:
        drop(es, name)
        es.close()
