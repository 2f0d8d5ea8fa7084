"""Watch queries as Elasticsearch Query DSL: the shape per construct, and the meaning.

The meaning is checked against a small model of the few Elasticsearch
queries the translation uses (term, match_phrase, prefix, bool, intervals)
evaluated on the `words` an index document holds; tests/integration/
test_search_rules.py checks the same against a real Elasticsearch.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_model import evaluate, queries, rejected_for_matching_nothing, render, stories, story_tokens

from streams.indexing import doc_of, index_template
from wirewatch.model import MatchedStory, Story
from wirewatch.query import parse
from wirewatch.query.to_es import (
    INDEX_PREFIX_MAX,
    MAX_TOKEN,
    WORDS,
    candidates_query,
    combine,
    field_words,
    translate,
    words_of,
)


def dsl(query: str) -> dict:
    t = translate(parse(query))
    assert t.exact, t.prefiltered
    return t.query


def either(title: dict, body: dict) -> dict:
    return {"bool": {"should": [title, body], "minimum_should_match": 1}}


# -- shapes ------------------------------------------------------------------------


def test_a_term_is_a_term_query_in_either_field():
    assert dsl("OPEC") == either(
        {"term": {"words.title": {"value": "opec", "boost": 2.0}}}, {"term": {"words.body": {"value": "opec"}}}
    )


def test_a_word_with_punctuation_is_the_phrase_of_its_tokens():
    # The spec cuts U.S. into u, s and 1,750 into 1, 750: phrases, as in the index's words.
    assert dsl("body:U.S.") == {"match_phrase": {"words.body": {"query": "u s"}}}
    assert dsl("body:1,750") == {"match_phrase": {"words.body": {"query": "1 750"}}}
    assert dsl("body:Xi’s") == {"match_phrase": {"words.body": {"query": "xi s"}}}
    assert dsl('body:"crude-oil, prices*"') == {"match_phrase": {"words.body": {"query": "crude oil prices"}}}
    assert dsl("body:ＯＰＥＣ") == {"term": {"words.body": {"value": "opec"}}}  # NFKC
    assert dsl("body:Straße") == {"term": {"words.body": {"value": "strasse"}}}  # case folding


def test_prefix_and_field_scope():
    assert dsl("title:sanction*") == {"prefix": {"words.title": {"value": "sanction", "boost": 2.0}}}
    scoped = dsl("title:(gold OR silver*)")
    assert scoped == {"bool": {"should": [
        {"term": {"words.title": {"value": "gold", "boost": 2.0}}},
        {"prefix": {"words.title": {"value": "silver", "boost": 2.0}}},
    ], "minimum_should_match": 1}}


def test_and_or_not_are_bool_with_the_spec_precedence():
    a, b, c = (dsl(f"body:{w}") for w in "abc")
    # a b OR c is (a AND b) OR c
    assert dsl("body:a body:b OR body:c") == {"bool": {"should": [{"bool": {"must": [a, b]}}, c], "minimum_should_match": 1}}
    assert dsl("body:a AND body:b") == {"bool": {"must": [a, b]}}
    assert dsl("body:a -body:b") == dsl("body:a NOT body:b") == {"bool": {"must": [a, {"bool": {"must_not": [b]}}]}}
    # NOT binds looser than NEAR: NOT (b NEAR/3 c)
    near = dsl("body:b NEAR/3 body:c")
    assert dsl("body:a NOT body:b NEAR/3 body:c") == {"bool": {"must": [a, {"bool": {"must_not": [near]}}]}}


def test_near_is_ordered_intervals_both_ways_per_pair():
    q = dsl('body:"crude oil" NEAR/0 body:price*')
    phrase = {"match": {"query": "crude oil", "ordered": True, "max_gaps": 0}}
    prefix = {"prefix": {"prefix": "price"}}
    assert q == {"intervals": {"words.body": {"any_of": {"intervals": [
        {"all_of": {"ordered": True, "max_gaps": 0, "intervals": [phrase, prefix]}},
        {"all_of": {"ordered": True, "max_gaps": 0, "intervals": [prefix, phrase]}},
    ]}}}}


def test_near_with_or_groups_and_scopes_per_field():
    q = dsl("(title:xi OR putin) NEAR/2 (moscow OR kremlin)")
    title, body = q["bool"]["should"]
    # In the title every leaf may take part: 2 x 2 pairs, both orders.
    assert len(title["intervals"]["words.title"]["any_of"]["intervals"]) == 8
    # In the body title:xi may not: 1 x 2 pairs.
    assert len(body["intervals"]["words.body"]["any_of"]["intervals"]) == 4
    # Sides in different fields can never be near: nothing matches, as in the matcher.
    assert dsl("title:a NEAR/3 body:b") == {"match_none": {}}


# -- what is only a prefilter -------------------------------------------------------


def test_long_words_are_prefiltered_on_what_the_index_keeps():
    long = "x" * (MAX_TOKEN + 20)
    t = translate(parse(f"body:{long}"))
    assert not t.exact and "characters" in t.prefiltered[0]
    assert t.query == {"prefix": {"words.body": {"value": "x" * MAX_TOKEN}}}
    assert field_words(f"a {long} b") == f"a {'x' * MAX_TOKEN} b"
    assert translate(parse("body:" + "y" * (MAX_TOKEN - 1))).exact  # shorter ones are kept whole


def test_near_with_a_long_prefix_is_both_sides_in_one_field():
    stem = "p" * (INDEX_PREFIX_MAX + 1)
    t = translate(parse(f"body:oil NEAR/2 body:{stem}*"))
    assert not t.exact and "NEAR" in t.prefiltered[0]
    assert t.query == {"bool": {"must": [
        {"term": {"words.body": {"value": "oil"}}}, {"prefix": {"words.body": {"value": stem}}},
    ]}}
    assert translate(parse(f"oil NEAR/2 {stem[:-1]}*")).exact  # one term of index_prefixes


def test_a_not_over_a_prefilter_is_left_to_the_matcher():
    long = "x" * MAX_TOKEN
    t = translate(parse(f"oil -{long}"))
    assert not t.exact and any(p.startswith("NOT") for p in t.prefiltered)
    assert t.query == dsl("oil")  # the NOT is dropped: every story passes it


def test_candidates_query_adds_stories_without_words():
    expr = parse("oil")
    t = translate(expr)
    only = candidates_query(t, expr, without_words=False)
    assert only == {"bool": {"filter": [{"term": {"words.v": 1}}], "must": [t.query]}}
    both = candidates_query(t, expr)
    with_words, legacy = both["bool"]["should"]
    assert with_words == only
    assert legacy["bool"]["must"] == [{"match_all": {}}] and legacy["bool"]["must_not"] == [{"term": {"words.v": 1}}]


def test_combine_is_the_query_and_any_rule():
    q, r1, r2 = parse("oil"), parse("gas"), parse("opec")
    assert str(combine([q], [r1, r2])) == "oil AND (gas OR opec)"
    assert combine([], [r1]) == r1
    with pytest.raises(ValueError):
        combine([], [])


# -- the index document and mapping ------------------------------------------------


def test_documents_carry_the_spec_tokens_and_the_mapping_has_them():
    story = Story(id="x:1", source="t", title="U.S. Xi’s", body="full-scale ＯＰＥＣ 1,750 foo_bar")
    src = doc_of(MatchedStory(story=story)).source
    assert src[WORDS] == {"title": "u s xi s", "body": "full scale opec 1 750 foo bar", "v": 1}
    mapping = index_template("ix")["template"]["mappings"]
    assert mapping["_source"] == {"excludes": [WORDS]}
    words = mapping["properties"][WORDS]["properties"]
    assert words["title"]["analyzer"] == words["body"]["analyzer"] == "whitespace"


def test_words_never_hold_whitespace_inside_a_token():
    # The whitespace analyzer must cut exactly where the spec does: no token
    # holds a character Java or Python counts as white space.
    import sys

    text = "".join(chr(c) for c in range(0, 0x3000) if not (0xD800 <= c <= 0xDFFF))
    for tok in field_words(text).split(" "):
        assert tok and not any(ch.isspace() for ch in tok)
    assert sys.maxunicode > 0xFFFF


# -- the meaning: a model of the Elasticsearch queries used, on the words --------------


def _occ(toks: list[str], src: dict) -> list[tuple[int, int]]:
    """Positions (start, end inclusive) of an intervals source."""
    if "match" in src:
        want = src["match"]["query"].split(" ")
        k = len(want)
        return [(i, i + k - 1) for i in range(len(toks) - k + 1) if toks[i : i + k] == want]
    if "prefix" in src:
        p = src["prefix"]["prefix"]
        return [(i, i) for i, t in enumerate(toks) if t.startswith(p)]
    if "any_of" in src:
        return sorted({o for s in src["any_of"]["intervals"] for o in _occ(toks, s)})
    spec = src["all_of"]
    assert spec["ordered"] is True
    seqs = [_occ(toks, s) for s in spec["intervals"]]
    found = []
    # Every chain of non-overlapping, ordered occurrences within max_gaps.
    def chains(i, start, last_end, gaps):
        if i == len(seqs):
            found.append((start, last_end))
            return
        for a, b in seqs[i]:
            if a > last_end:
                gap = gaps + (a - last_end - 1 if i else 0)
                if gap <= spec["max_gaps"]:
                    chains(i + 1, a if i == 0 else start, b, gap)
    chains(0, -1, -1, 0)
    return found


def es_model(q: dict, doc: dict) -> bool:
    (kind, arg), = q.items()
    words = {f: (doc[WORDS][f].split(" ") if doc[WORDS][f] else []) for f in ("title", "body")}
    def field_of(name):
        return words[name.split(".")[1]]
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "term":
        (name, v), = arg.items()
        return (v["value"] if isinstance(v, dict) else v) in (field_of(name) if name != "words.v" else [doc[WORDS]["v"]])
    if kind == "prefix":
        (name, v), = arg.items()
        return any(t.startswith(v["value"]) for t in field_of(name))
    if kind == "match_phrase":
        (name, v), = arg.items()
        return bool(_occ(field_of(name), {"match": {"query": v["query"]}}))
    if kind == "intervals":
        (name, rule), = arg.items()
        rule = {k: v for k, v in rule.items() if k != "boost"}
        return bool(_occ(field_of(name), rule))
    assert kind == "bool"
    must = all(es_model(c, doc) for c in arg.get("must", []) + arg.get("filter", []))
    must_not = any(es_model(c, doc) for c in arg.get("must_not", []))
    should = arg.get("should", [])
    msm = arg.get("minimum_should_match", 0 if (arg.get("must") or arg.get("filter")) else 1)
    return must and not must_not and (not should or sum(es_model(c, doc) for c in should) >= msm or msm == 0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries(), st.lists(stories(), min_size=1, max_size=6))
def test_translation_means_what_the_spec_says(q, story_list):
    if rejected_for_matching_nothing(q):
        return
    t = translate(parse(render(q)))
    assert t.exact
    for title, body in story_list:
        doc = {WORDS: words_of(title, body)}
        assert es_model(t.query, doc) == evaluate(q, story_tokens(title, body)), (render(q), title, body, t.query)
