"""Watch queries as searches on a real Elasticsearch: exactly the stories the matcher matches.

3,000 Reuters-21578 stories, the plain-text sample and 300 generated
stories full of what Elasticsearch's standard analyzer cuts differently
(`U.S.`, `1,750`, `Xi’s`, `foo_bar`, `ＯＩＬ`, `ﬁne`, `Straße`, a decomposed
`café`, CJK, emoji, a word longer than the index keeps) are indexed once
for the module.  For every query, the translated Elasticsearch query alone
must find exactly the matcher's stories when the translation says it is
exact (a superset when it says it is a prefilter), and `wirewatch search
--all` exactly them in every case.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest
from elasticsearch import helpers
from hypothesis import HealthCheck, given, settings as hsettings
from unit.spec_model import FILLER, SEPARATORS, queries, rejected_for_matching_nothing, render

from producers.sources import read_stories
from streams import elastic
from streams.indexing import bulk_operations, doc_of, index_template
from support import names
from support.processes import run
from wirewatch.model import MatchedStory, Story
from wirewatch.query import Matcher, parse
from wirewatch.query.to_es import MAX_TOKEN, WORDS, candidates_query, translate
from wirewatch.settings import Settings

REUTERS = 3000
LONG = "Q" * (MAX_TOKEN + 30)

# Every construct of shared/spec/watch-queries.md; most occur in 1987 Reuters text.
QUERIES = [
    "oil",  # term
    "OPEC",
    "crude oil",  # implicit AND
    "crude AND oil AND prices",
    '"crude oil"',  # phrase
    '"dlrs a share"',
    '"mln dlrs"',
    "opec OR cartel",
    "oil -opec",  # NOT as -
    "oil NOT opec",
    "-opec oil",
    "NOT (opec OR iran) crude",
    "(gold OR silver) NOT (mine OR mining)",
    "trade NEAR/5 deficit",  # NEAR
    "crude NEAR/0 oil",  # adjacent, either order
    "oil NEAR/0 crude",
    "dlrs NEAR/1000 mln",
    "a NEAR/0 a",  # two occurrences, not one
    "(deadly OR lethal OR crude) NEAR/2 (oil OR price*)",  # OR groups as operands
    '"crude oil" NEAR/3 (price* OR output)',
    "(title:oil OR body:gas) NEAR/4 price*",  # scoped NEAR operands
    "sanction*",  # prefix
    "export*",
    "oi*",  # two characters: the index's prefix terms
    "compan* NEAR/3 profit*",
    "co* NEAR/1 shares",
    "title:gold",  # field scope
    "body:gold",
    "title:(gold OR silver)",  # scoped groups
    "title:(oil NOT opec)",
    "title:(oil NEAR/3 price*)",
    "title:opec body:quota*",
    "TITLE: oil Body:(price* -crude)",
    "oil prices OR gold",  # precedence: (oil AND prices) OR gold
    "oil NOT opec NEAR/3 quota*",  # NOT (opec NEAR/3 quota*)
    "U.S.",  # u s: one token u.s to the standard analyzer
    '"U.S. Treasury"',
    "U.S. NEAR/3 dollar*",
    "1,750",  # 1 750
    '"1,750 dlrs"',
    '"4.5 pct"',
    '"2:1"',
    "company's",  # company s
    '"year\'s"',
    "full-scale",
    "ＯＰＥＣ",  # NFKC
    "Xi’s",
    '"peace talks"',
    '"deadly military aid"',
    '"lethal aid" OR ((deadly OR lethal) NEAR/2 (aid OR weapons))',
    "title:(Xi OR Putin) (Moscow OR Kremlin)",
    "OPEC NEAR/5 (cut* OR quota*) -Iran",
    # Generated stories: what the standard analyzer cuts differently.
    "foo_bar",
    '"foo bar"',
    "Straße",
    "strasse",
    "café",
    "ﬁne",
    "oil NEAR/1 gas",
    "北京",
    "title:\"u s\" NEAR/2 oil",
    "10:30",
    # Only a prefilter: a word longer than the index keeps, a NOT over one, a
    # NEAR with a prefix longer than the index's prefix terms.
    LONG,
    f"oil -{LONG.lower()}",
    f"{'q' * 25}* NEAR/3 oil",
]
PREFILTERED = {LONG, f"oil -{LONG.lower()}", f"{'q' * 25}* NEAR/3 oil"}

# Words the standard analyzer and the spec cut differently, for generated stories.
TRICKY = ["U.S.", "1,750", "Xi’s", "foo_bar", "ＯＩＬ", "ﬁne", "Straße", "strasse", "cafe\u0301", "café", "北京",
          "😀", "10:30", "oil_gas", LONG, LONG + "R", "a.b.c"]
MORE_SEPARATORS = ["\u00a0", "\u3000", " 😀 ", "—", "…", "'"]


def generated(n: int, seed: int = 1987) -> list[Story]:
    rnd = random.Random(seed)
    words = FILLER + TRICKY

    def text(most: int) -> str:
        k = rnd.randint(0, most)
        return "".join(rnd.choice(words) + rnd.choice(SEPARATORS + MORE_SEPARATORS) for _ in range(k))

    return [Story(id=f"gen:{i}", source="generated", title=text(6), body=text(30)) for i in range(n)]


def _settings(es_url: str, tmp_path_factory, name: str) -> Settings:
    home = tmp_path_factory.mktemp("wirewatch-home")
    return Settings(index=name, topic_prefix=name, app_id=name, es_url=es_url, home=home)


def _write(es, index: str, stories: list[Story], strip_words: bool = False) -> None:
    for at in range(0, len(stories), 500):
        chunk = stories[at : at + 500]
        docs = [doc_of(MatchedStory(story=s)) for s in chunk]
        if strip_words:
            for d in docs:
                d.source.pop(WORDS)
        resp = es.bulk(operations=bulk_operations(docs, index))
        assert not resp["errors"], [i for i in resp["items"] if i["index"].get("error")][:3]
    es.indices.refresh(index=index)


def _drop(es, index: str) -> None:
    es.indices.delete(index=index, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=elastic.template_name(index))


@pytest.fixture(scope="module")
def corpus(corpus_dir) -> list[Story]:
    reuters = [corpus_dir / "reuters21578" / f"reut2-00{i}.sgm" for i in range(3)]
    stories = list(itertools.islice(read_stories(reuters), REUTERS))
    stories += list(read_stories([corpus_dir / "samples" / "xi-putin-moscow-visit.txt"]))
    return stories + generated(300)


@pytest.fixture(scope="module")
def indexed(es_url, corpus, tmp_path_factory):
    s = _settings(es_url, tmp_path_factory, names.fresh("test-search-"))
    es = elastic.sync_client(s)
    try:
        elastic.ensure_index_sync(es, s.index)
        _write(es, s.index, corpus)
        yield s, es
    finally:
        _drop(es, s.index)
        es.close()


def matcher_ids(stories: list[Story], query: str) -> set[str]:
    m = Matcher.from_rules({"q": query})
    return {s.id for s in stories if m.match(s.title, s.body)}


def es_ids(es, index: str, query: dict) -> set[str]:
    return {h["_id"] for h in helpers.scan(es, index=index, query={"query": query}, _source=False, size=1000)}


def search_all(s: Settings, *args: str) -> set[str]:
    result = run(s, "search", *args, "--all", "--json")
    assert result.returncode == 0, result.stderr
    return {json.loads(line)["story_id"] for line in result.stdout.splitlines()}


def test_the_corpus_holds_what_the_queries_are_about(corpus):
    assert len(corpus) == REUTERS + 1 + 300
    # Every query finds stories, so that equality below means something.
    assert [q for q in QUERIES if not matcher_ids(corpus, q)] == []


@pytest.mark.parametrize("query", QUERIES)
def test_elasticsearch_finds_exactly_what_the_matcher_matches(indexed, corpus, query):
    s, es = indexed
    expr = parse(query)
    t = translate(expr)
    found = es_ids(es, s.index, candidates_query(t, expr, without_words=False))
    want = matcher_ids(corpus, query)
    assert t.exact == (query not in PREFILTERED)
    if t.exact:
        assert found == want, (sorted(found - want)[:5], sorted(want - found)[:5])
    else:
        assert found >= want, sorted(want - found)[:5]  # a prefilter never misses a story


@hsettings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(queries())
def test_generated_queries_too(indexed, corpus, q):
    if rejected_for_matching_nothing(q):
        return
    s, es = indexed
    text = render(q)
    expr = parse(text)
    found = es_ids(es, s.index, candidates_query(translate(expr), expr, without_words=False))
    assert found == matcher_ids(corpus, text), text


@pytest.mark.parametrize("query", ["U.S. NEAR/3 dollar*", "title:(oil NOT opec)", '"1,750 dlrs" OR Straße', f"oil -{LONG.lower()}"])
def test_search_all_prints_exactly_the_matched_stories(indexed, corpus, query):
    s, _ = indexed
    assert search_all(s, query) == matcher_ids(corpus, query)


def test_search_shows_hits_with_the_matched_words(indexed, corpus):
    s, _ = indexed
    result = run(s, "search", '"crude oil" NEAR/3 price*', "--size", "3")
    assert result.returncode == 0, result.stderr
    total = len(matcher_ids(corpus, '"crude oil" NEAR/3 price*'))
    assert f"{total} stories in {s.index}; showing 3" in result.stderr
    assert result.stdout.count("reuters-21578:") == 3
    newest = run(s, "search", "--query", "title:gold", "--newest", "--json", "--size", "5")
    docs = [json.loads(line) for line in newest.stdout.splitlines()]
    assert len(docs) == 5 and all("gold" in d["title"].lower() for d in docs) and WORDS not in docs[0]
    stamps = [d["@timestamp"] for d in docs]
    assert stamps == sorted(stamps, reverse=True)
    prefiltered = run(s, "search", f"oil -{LONG.lower()}", "--size", "2")
    assert prefiltered.returncode == 0 and "prefiltered:" in prefiltered.stderr


def test_an_index_from_before_the_token_fields_still_gives_exact_answers(es_url, corpus, tmp_path_factory):
    s = _settings(es_url, tmp_path_factory, names.fresh("test-search-old-"))
    es = elastic.sync_client(s)
    old = index_template(s.index)["template"]
    del old["mappings"]["properties"][WORDS], old["mappings"]["_source"]
    stories = corpus[:300] + corpus[-300:]
    try:
        es.indices.create(index=s.index, mappings=old["mappings"], settings=old["settings"])
        _write(es, s.index, stories[:300], strip_words=True)
        for query in ("oil -opec", "U.S. NEAR/3 dollar*"):
            assert search_all(s, query) == matcher_ids(stories[:300], query)
        # A worker of this version adds the new fields; old and new stories side by side.
        elastic.ensure_index_sync(es, s.index)
        _write(es, s.index, stories[300:])
        for query in ("oil -opec", "strasse OR foo_bar", "U.S. NEAR/3 dollar*"):
            assert search_all(s, query) == matcher_ids(stories, query)
        result = run(s, "search", "oil", "--size", "1")
        assert "300 stories in" in result.stderr and "without the token fields" in result.stderr
    finally:
        _drop(es, s.index)
        es.close()
