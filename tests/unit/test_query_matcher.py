import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_model import evaluate, queries, render, rejected_for_matching_nothing, stories, story_tokens

from wirewatch.errors import RuleError
from wirewatch.query import Matcher, QueryError, native, parse
from wirewatch.query import matcher as matcher_module
from wirewatch.query.tokens import tokens

ENGINES = ["python", "native"] if native.available() else ["python"]


@pytest.fixture(autouse=True, scope="module", params=ENGINES)
def engine(request):
    """Every test here runs against each matcher engine (module-scoped, for hypothesis)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matcher_module, "default_engine", lambda: request.param)
        yield request.param

SAMPLE_TITLE = "Xi’s Moscow visit: Putin hails ‘peace talks’ as West weighs deadly military aid"
SAMPLE_BODY = (
    "MOSCOW — Chinese leader Xi Jinping met Vladimir Putin in the Kremlin on Monday. The U.S. said "
    "any lethal aid to Russia would be a full-scale escalation; OPEC may cut output quotas, Iran said."
)


def matcher(**rules) -> Matcher:
    m = Matcher()
    for rule_id, query in rules.items():
        m.add(rule_id, query)
    return m


def test_the_engine_under_test_is_used(engine):
    assert Matcher().engine == engine == Matcher.from_rules({"a": "oil"}).engine


def test_spec_examples_against_a_story():
    m = matcher(
        phrase='"peace talks"',
        both="peace talks",
        lethal='"lethal aid" OR ((deadly OR lethal) NEAR/2 (aid OR weapons))',
        scoped="title:(Xi OR Putin) (Moscow OR Kremlin)",
        opec="OPEC NEAR/5 (cut* OR quota*) -Iran",
        opec_no_neg="OPEC NEAR/5 (cut* OR quota*)",
    )
    assert m.match(SAMPLE_TITLE, SAMPLE_BODY) == ["both", "lethal", "opec_no_neg", "phrase", "scoped"]
    assert m.match("Deadly military aid", "") == ["lethal"]
    assert m.match("Deadly military and other aid", "") == []
    assert m.match("Moscow", "Xi") == []  # Xi must be in the title


def test_near_is_either_order_not_overlapping_and_counts_tokens_between():
    m = matcher(
        n0="oil NEAR/0 price",
        n1="oil NEAR/1 price",
        ph='"crude oil" NEAR/1 oil',
        self_near="oil NEAR/0 oil",
        pre="pri* NEAR/0 price",
    )
    assert m.match("", "price oil") == ["n0", "n1"]
    assert m.match("", "oil the price") == ["n1"]
    assert m.match("", "oil, the, a price") == []
    # The phrase's own "oil" overlaps it; another oil one token away does not.
    assert m.match("", "crude oil") == []
    assert m.match("", "crude oil x oil") == ["ph"]
    assert m.match("", "oil crude oil") == ["ph"]
    assert m.match("", "oil") == []  # one occurrence cannot pair with itself
    assert m.match("", "oil oil") == ["self_near"]
    assert m.match("", "price") == []  # a prefix occurrence cannot pair with itself
    assert m.match("", "prices price") == ["pre"]


def test_no_phrase_or_near_spans_the_two_fields():
    m = matcher(p='"crude oil"', n="crude NEAR/5 oil", a="crude oil")
    assert m.match("crude", "oil") == ["a"]


def test_field_scoped_near_and_mixed_sides():
    m = matcher(r="(title:a OR body:b) NEAR/1 c")
    assert m.match("a c", "") == ["r"]
    assert m.match("b c", "") == []
    assert m.match("", "b x c") == ["r"]
    assert m.match("", "a c") == []


def test_prefixes_match_token_starts_only():
    m = matcher(p="sanction*")
    assert m.match("", "new sanctions") == ["p"]
    assert m.match("", "Sanction") == ["p"]
    assert m.match("", "desanction") == []


def test_add_replace_remove():
    m = Matcher()
    m.add("r", "oil")
    assert "r" in m and len(m) == 1
    assert m.match("", "oil") == ["r"]
    m.add("r", '"crude oil"')
    assert len(m) == 1 and m.match("", "oil") == [] and m.match("", "crude oil") == ["r"]
    with pytest.raises(QueryError):
        m.add("r", "NOT oil")
    assert m.query("r") == '"crude oil"'  # a bad replacement keeps the old rule
    assert m.remove("r") is True and m.remove("r") is False
    assert len(m) == 0 and m.match("", "crude oil") == []


def test_from_rules_accepts_rules_pairs_and_mappings():
    from wirewatch.rules import Rule

    assert Matcher.from_rules([Rule("a", "oil")]).match("", "oil") == ["a"]
    assert Matcher.from_rules([("a", "oil")]).match("", "oil") == ["a"]
    assert Matcher.from_rules({"a": "oil", "b": "gas"}).match("", "oil gas") == ["a", "b"]
    with pytest.raises(RuleError) as err:
        Matcher.from_rules([("a", "oil"), ("b", "x NEAR/2 NOT y")])
    assert err.value.rule_id == "b" and "column 10" in str(err.value)
    problems = []
    m = Matcher.from_rules([("a", "oil"), ("a", "gas"), ("b", "-x")], on_error=problems.append)
    assert len(m) == 1 and [p.rule_id for p in problems] == ["a", "b"]


def test_many_changes_with_matching_in_between_stay_exact():
    rnd = random.Random(7)
    words = [f"w{i}" for i in range(300)]
    m = Matcher()
    live: dict[str, str] = {}
    for step in range(3000):
        rule_id = f"r{rnd.randrange(400)}"
        if rnd.random() < 0.3 and rule_id in live:
            m.remove(rule_id)
            del live[rule_id]
        else:
            a, b = rnd.sample(words, 2)
            query = rnd.choice([f'"{a} {b}"', f"{a[:2]}{a[2:3]}*", f"{a} {b}", f"{a} NEAR/1 {b}"])
            m.add(rule_id, query)
            live[rule_id] = query
        if step % 50 == 0:
            text = " ".join(rnd.choices(words, k=60))
            assert m.match("", text) == Matcher.from_rules(live).match("", text)
    assert len(m) == len(live)


def test_match_many_is_match_story_by_story():
    m = matcher(opec="OPEC NEAR/5 (cut* OR quota*)", xi="title:(Xi OR Putin) (Moscow OR Kremlin)", oil="oil -iran")
    stories = [(SAMPLE_TITLE, SAMPLE_BODY), ("", ""), ("Oil prices", "OPEC agreed to cut quotas"), ("iran oil", "")]
    assert m.match_many(stories) == [m.match(t, b) for t, b in stories]
    assert m.match_many(iter(stories[2:3])) == [["oil", "opec"]]
    assert m.match_many([]) == []


def test_hits_point_at_the_words_that_matched():
    m = matcher(
        lethal='"lethal aid" OR ((deadly OR lethal) NEAR/2 (aid OR weapons))',
        scoped="title:(Xi OR Putin) (Moscow OR Kremlin) -zebra",
        opec="OPEC NEAR/5 (cut* OR quota*)",
    )
    hits = m.hits(SAMPLE_TITLE, SAMPLE_BODY)
    text = {"title": SAMPLE_TITLE, "body": SAMPLE_BODY}
    words = {rule: {(h.field, text[h.field][h.start : h.end]) for h in hs} for rule, hs in hits.items()}
    # "lethal aid" in the body is the phrase and also a NEAR pair; "deadly … aid" in the title a NEAR pair.
    assert words["lethal"] == {("body", "lethal aid"), ("body", "lethal"), ("body", "aid"), ("title", "deadly"), ("title", "aid")}
    # Words under NOT are not highlighted; OR branches that are true are.
    assert words["scoped"] == {("title", "Xi"), ("title", "Putin"), ("title", "Moscow"), ("body", "MOSCOW"), ("body", "Kremlin")}
    assert words["opec"] == {("body", "OPEC"), ("body", "cut"), ("body", "quotas")}
    assert m.hits(SAMPLE_TITLE, SAMPLE_BODY, ["opec", "unknown"]).keys() == {"opec"}
    assert m.hits("nothing", "here") == {}


# -- the fast matcher against the brute-force spec ------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries(), min_size=1, max_size=6), st.lists(stories(), min_size=1, max_size=6), st.randoms())
def test_matcher_agrees_with_brute_force_spec(qs, story_list, rnd):
    m = Matcher()
    valid = {}
    for i, q in enumerate(qs):
        text = render(q, lambda: rnd.random() < 0.2)
        if rejected_for_matching_nothing(q):
            with pytest.raises(QueryError, match="none of its words"):
                parse(text)
            continue
        m.add(f"q{i}", text)
        valid[f"q{i}"] = (q, text)
    for title, body in story_list:
        toks = story_tokens(title, body)
        want = sorted(rule for rule, (q, _) in valid.items() if evaluate(q, toks))
        assert m.match(title, body) == want, (title, body, {r: t for r, (_, t) in valid.items()})
        # hits() reports every matching rule, each with at least one word.
        hits = m.hits(title, body)
        assert sorted(hits) == want
        for found in hits.values():
            for h in found:
                field = title if h.field == "title" else body
                assert tokens(field[h.start : h.end])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(queries(), min_size=100, max_size=150), st.lists(stories(), min_size=5, max_size=10))
def test_a_large_random_rule_set_agrees_with_brute_force(qs, story_list):
    # Many rules in one matcher, so presearch anchors and shared patterns interact.
    valid = {f"r{i:03d}": q for i, q in enumerate(qs) if not rejected_for_matching_nothing(q)}
    m = Matcher.from_rules({r: render(q) for r, q in valid.items()})
    for title, body in story_list:
        toks = story_tokens(title, body)
        assert m.match(title, body) == sorted(r for r, q in valid.items() if evaluate(q, toks))
