import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirewatch.query import QueryError, parse
from wirewatch.query.expr import And, Leaf, Near, Not, Or


def leaf(*tokens, prefix=False, field=None):
    return Leaf(tuple(tokens), prefix, field)


# -- the spec's examples -----------------------------------------------------------

ACCEPTED = {
    '"peace talks"': leaf("peace", "talks"),
    "peace talks": And((leaf("peace"), leaf("talks"))),
    '"lethal aid" OR ((deadly OR lethal) NEAR/2 (aid OR weapons))': Or(
        (leaf("lethal", "aid"), Near((leaf("deadly"), leaf("lethal")), (leaf("aid"), leaf("weapons")), 2))
    ),
    "title:(Xi OR Putin) (Moscow OR Kremlin)": And(
        (Or((leaf("xi", field="title"), leaf("putin", field="title"))), Or((leaf("moscow"), leaf("kremlin"))))
    ),
    "OPEC NEAR/5 (cut* OR quota*) -Iran": And(
        (Near((leaf("opec"),), (leaf("cut", prefix=True), leaf("quota", prefix=True)), 5), Not(leaf("iran")))
    ),
}

REJECTED = {
    'NOT "peace talks"': "none of its words",
    "a NEAR/2 b NEAR/3 c": "chained",
    "(oil AND gas) NEAR/3 price": "NEAR takes",
    "country:japan": "unknown field",
    '"crude oil"~4': "NEAR/n",
    "s*": "prefix too short",
}


@pytest.mark.parametrize("query", list(ACCEPTED))
def test_spec_examples_accepted(query):
    assert parse(query) == ACCEPTED[query]


@pytest.mark.parametrize("query", list(REJECTED))
def test_spec_examples_rejected(query):
    with pytest.raises(QueryError) as err:
        parse(query)
    assert REJECTED[query] in str(err.value)
    assert err.value.column is not None and str(err.value).startswith(f"column {err.value.column}: ")


# -- tokens, words and punctuation ----------------------------------------------------


def test_words_are_cut_into_tokens_like_story_text():
    assert parse("U.S.") == leaf("u", "s")
    assert parse("full-scale") == leaf("full", "scale")
    assert parse("10:30") == leaf("10", "30")
    assert parse("Xi’s") == leaf("xi", "s")
    assert parse("Straße") == leaf("strasse")
    assert parse("café:x") == leaf("café", "x")  # not ASCII letters: the colon is punctuation
    assert parse("a1:b") == leaf("a1", "b")


def test_inside_quotes_everything_else_separates():
    assert parse('"sanction* NOT OR title:x AND"') == leaf("sanction", "not", "or", "title", "x", "and")
    assert parse('"oil"') == leaf("oil")


def test_operators_are_capitals_only():
    assert parse("a and b") == And((leaf("a"), leaf("and"), leaf("b")))
    assert parse("oil or gas") == And((leaf("oil"), leaf("or"), leaf("gas")))
    assert parse("oil near/3 gas") == And((leaf("oil"), leaf("near", "3"), leaf("gas")))
    assert parse("a not b") == And((leaf("a"), leaf("not"), leaf("b")))


def test_prefixes():
    assert parse("sanction*") == leaf("sanction", prefix=True)
    assert parse("ab*") == leaf("ab", prefix=True)
    assert parse("ß*") == leaf("ss", prefix=True)  # two characters once normalised
    assert parse("title:oil*") == leaf("oil", prefix=True, field="title")


@pytest.mark.parametrize(
    "query, column, words",
    [
        ("a*b", 2, "only at the end"),
        ("*ab", 1, "only at the end"),
        ("ab**", 3, "only at the end"),
        ("U.S*", 1, "single word"),
        ("x*", 1, "too short"),
        ("é*", 1, "too short"),
        ("-*", 2, "no letters or digits"),
    ],
)
def test_prefix_rejections(query, column, words):
    with pytest.raises(QueryError) as err:
        parse(query)
    assert err.value.column == column and words in str(err.value)


def test_negation_only_at_the_start_of_a_word():
    assert parse("oil -gas") == And((leaf("oil"), Not(leaf("gas"))))
    assert parse("oil full-scale") == And((leaf("oil"), leaf("full", "scale")))
    assert parse('oil -"gas price"') == And((leaf("oil"), Not(leaf("gas", "price"))))
    assert parse("oil -(gas OR coal)") == And((leaf("oil"), Not(Or((leaf("gas"), leaf("coal"))))))
    assert parse("oil -title:gas") == And((leaf("oil"), Not(leaf("gas", field="title"))))
    assert parse("oil NOT NOT gas") == And((leaf("oil"), Not(Not(leaf("gas")))))


# -- precedence ------------------------------------------------------------------------


def test_precedence():
    a, b, c = leaf("a"), leaf("b"), leaf("c")
    assert parse("a b OR c") == Or((And((a, b)), c))
    assert parse("a OR b c") == Or((a, And((b, c))))
    assert parse("a AND b OR c AND a") == Or((And((a, b)), And((c, a))))
    assert parse("c NOT a NEAR/3 b") == And((c, Not(Near((a,), (b,), 3))))
    assert parse("c -a NEAR/3 b") == And((c, Not(Near((a,), (b,), 3))))
    assert parse("a NEAR/3 b c") == And((Near((a,), (b,), 3), c))
    assert parse("title:a NEAR/1 b") == Near((leaf("a", field="title"),), (b,), 1)
    assert parse("c NOT a b") == And((c, Not(a), b))
    assert parse("(a OR b) c") == And((Or((a, b)), c))


def test_field_scopes():
    assert parse("title:oil") == leaf("oil", field="title")
    assert parse("TITLE:oil") == leaf("oil", field="title")
    assert parse("Body: oil") == leaf("oil", field="body")
    assert parse('title:"crude oil"') == leaf("crude", "oil", field="title")
    assert parse("title:(a -b) c") == And((leaf("a", field="title"), Not(leaf("b", field="title")), leaf("c")))
    assert parse("title:(a NEAR/2 b)") == Near((leaf("a", field="title"),), (leaf("b", field="title"),), 2)
    assert parse("title:(a OR b) NEAR/2 c") == Near((leaf("a", field="title"), leaf("b", field="title")), (leaf("c"),), 2)
    assert parse("(title:a OR body:b) NEAR/0 c") == Near((leaf("a", field="title"), leaf("b", field="body")), (leaf("c"),), 0)


def test_near_operands():
    assert parse("((a OR b) OR c) NEAR/2 (d)") == Near((leaf("a"), leaf("b"), leaf("c")), (leaf("d"),), 2)
    assert parse('"a b" NEAR/1000 cd*') == Near((leaf("a", "b"),), (leaf("cd", prefix=True),), 1000)
    assert parse("a NEAR/03 b") == Near((leaf("a"),), (leaf("b"),), 3)


# -- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, column, words",
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(a", 1, "never closed"),
        ("((a) OR (b)", 1, "never closed"),
        ("a)", 2, "no ( before it"),
        ('"a', 1, "never closed"),
        ('a "b" "c', 7, "never closed"),
        ("a AND", 3, "nothing after"),
        ("a OR", 3, "nothing after"),
        ("OR b", 1, "nothing before"),
        ("AND b", 1, "nothing before"),
        ("a OR OR b", 3, "nothing after"),
        ("a (OR b)", 4, "nothing before"),
        ("NOT", 1, "nothing after"),
        ("a -", 3, "followed directly"),
        ("a - b", 3, "followed directly"),
        ("()", 1, "empty group"),
        ("a ()", 3, "empty group"),
        ("NEAR/2 b", 1, "nothing before"),
        ("a NEAR/2", 3, "nothing after"),
        ("a NEAR/2 NOT b", 10, "NEAR takes"),
        ("a NEAR/2 -b", 10, "NEAR takes"),
        ("(a b) NEAR/2 c", 1, "NEAR takes"),
        ("a NEAR/2 (b -c)", 10, "NEAR takes"),
        ("(a NEAR/2 b) NEAR/2 c", 1, "NEAR takes"),
        ("a NEAR/2 b NEAR/3 c", 12, "chained"),
        ("a NEAR b", 3, "whole number"),
        ("a NEAR/ b", 3, "whole number"),
        ("a NEAR/1001 b", 3, "whole number"),
        ("a NEAR/-1 b", 3, "whole number"),
        ("a NEAR/2.5 b", 3, "whole number"),
        ("a NEAR/two b", 3, "whole number"),
        ('"crude oil"~', 12, "NEAR/n"),
        ("&&", 1, "no letters or digits"),
        ("oil &&", 5, "no letters or digits"),
        ('""', 1, "empty phrase"),
        ('" - "', 1, "empty phrase"),
        ("country:japan", 1, "unknown field"),
        ("oil headline:x", 5, "unknown field"),
        ("http://x", 1, "unknown field"),
        ("title:(body:x)", 8, "field scope inside a field scope"),
        ("title:body:x", 7, "field scope inside a field scope"),
        ("title:", 1, "takes a word"),
        ("title: OR x", 1, "takes a word"),
        ("title:-x y", 1, "takes a word"),
        ("NOT x", 1, "none of its words"),
        ("a OR NOT b", 6, "none of its words"),
        ("-oil", 1, "none of its words"),
        ("NOT a NOT b", 1, "none of its words"),
        ("(a OR -b) (c OR -d)", 7, "none of its words"),
    ],
)
def test_rejections_name_the_problem_and_column(query, column, words):
    with pytest.raises(QueryError) as err:
        parse(query)
    assert words in str(err.value), str(err.value)
    assert err.value.column == column, str(err.value)
    assert err.value.query == query


def test_negation_is_fine_when_a_word_is_required():
    assert parse("NOT NOT a") == Not(Not(leaf("a")))
    assert parse("(a OR -b) c") == And((Or((leaf("a"), Not(leaf("b")))), leaf("c")))
    assert parse("NOT (NOT a OR NOT b)") == Not(Or((Not(leaf("a")), Not(leaf("b")))))


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(QueryError):
        parse("(" * 5000 + "a" + ")" * 5000)
    with pytest.raises(QueryError):
        parse("NOT " * 5000 + "a")
    assert parse("(" * 50 + "a" + ")" * 50) == leaf("a")


def test_round_trip_of_printed_expressions():
    for q in [*ACCEPTED, "a b OR c", "title:(a -b) c", '"U.S." NEAR/3 ab*', "NOT NOT x", "body:x OR title:\"a b\""]:
        e = parse(q)
        assert parse(str(e)) == e, (q, str(e))


# -- fuzz --------------------------------------------------------------------------------

QUERYISH = st.lists(
    st.sampled_from(
        ["a", "oil", "AND", "OR", "NOT", "NEAR/2", "NEAR/x", "NEAR", "(", ")", '"', "-", "*", "title:", "body:",
         "x:", ":", "~3", " ", " ", " ", "é", "\u0301", "U.S.", "ab*", "10:30", "&&", "\t", "NEAR/1001"]
    ),
    max_size=16,
).map("".join)


@settings(max_examples=3000)
@given(st.one_of(QUERYISH, st.text(max_size=40)))
def test_fuzz_any_text_is_an_expression_or_a_query_error(text):
    try:
        e = parse(text)
    except QueryError as err:
        assert err.column is None or 1 <= err.column <= len(text) + 1
        return
    assert parse(str(e)) == e
