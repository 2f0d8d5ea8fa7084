"""The compiled index (`wirewatch/query/native.py`, `native/`) beyond what
test_query_matcher.py checks for both engines: its shortcuts, caches and
bookkeeping, each against the pure-Python index."""

import random
import shutil

import pytest

from wirewatch.query import Matcher, native
from wirewatch.query.matcher import compile_rule
from wirewatch.query.pyindex import PythonIndex
from wirewatch.query.tokens import tokens

needs_native = pytest.mark.skipif(not native.available(), reason="the compiled core is not built")


@pytest.mark.skipif(shutil.which("cargo") is None, reason="no Rust toolchain here")
def test_the_core_is_built_where_rust_is():
    # `pip install -e .` builds it whenever cargo is on PATH; without it every
    # matcher silently falls back to pure Python.
    assert native.available()
    assert Matcher().engine == "native"


# Each way a candidate rule is decided once an anchor is found (native._decide).
SHAPES = {
    "word": ("cocoa", native.EXACT),
    "phrase": ('"buffer stock"', native.EXACT),
    "or": ("cocoa OR title:coffee", native.EXACT),
    "prefix": ("sanction*", native.EXACT),
    "and": ('opec "production ceiling"', native.AND),
    "and-scoped": ("title:opec ceiling", native.AND),
    "and-not": ('"interest rates" -mortgage', native.AND_NOT),
    "and-either": ('(wheat OR maize) "export subsidies"', native.AND_EITHER),
    "near": ("quota* NEAR/5 opec", native.NEAR),
    "near-self": ("mln NEAR/0 mln", native.NEAR),
    "near-scoped": ("title:opec NEAR/1 cut*", native.NEAR),
    "eval-three": ("opec ceiling quota", native.EVAL),
    "eval-near-or": ("(wheat OR maize) NEAR/2 export*", native.EVAL),
    "eval-not-near": ("title:(oil OR opec) NOT (crude NEAR/1 price*)", native.EVAL),
    "eval-or-of-and": ("(opec ceiling) OR (wheat -maize)", native.EVAL),
}
WORDS = (
    "cocoa coffee buffer stock sanction sanctions sanctioned opec production ceiling interest rates "
    "mortgage wheat maize export exports subsidies quota quotas mln oil crude price prices cut cuts the of"
).split()


@needs_native
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_is_decided_as_intended(name):
    query, mode = SHAPES[name]
    assert native.rule_spec(compile_rule(query).nnf)[4][0] == mode


def _random_field(rnd: random.Random) -> str:
    return " ".join(rnd.choices(WORDS, k=rnd.randint(0, 12)))


@needs_native
def test_every_shape_agrees_with_the_python_index_on_random_stories():
    fast, slow = Matcher.from_rules({n: q for n, (q, _) in SHAPES.items()}, engine="native"), PythonIndex()
    for n, (q, _) in SHAPES.items():
        slow.add(n, compile_rule(q).nnf)
    rnd = random.Random(21578)
    seen = set()
    for _ in range(3000):
        title, body = _random_field(rnd), _random_field(rnd)
        got = fast.match(title, body)
        assert got == slow.match(tokens(title), tokens(body)), (title, body)
        seen.update(got)
    assert seen == set(SHAPES)  # every shape matched some story


@needs_native
def test_prefixes_added_after_tokens_were_cached_are_found():
    m = Matcher(engine="native")
    m.add("other", "zz*")  # some prefix, so that story tokens get cached
    assert m.match("", "new sanctions imposed") == []
    m.add("p", "sanc*")
    assert m.match("", "new sanctions imposed") == ["p"]
    m.add("q", "sanctions*")
    assert m.match("", "new sanctions imposed") == ["p", "q"]
    m.remove("p")
    assert m.match("", "new sanctions imposed") == ["q"]
    m.remove("q")
    assert m.match("", "new sanctions imposed") == []


@needs_native
def test_phrases_that_start_alike():
    rules = {"ab": '"a b"', "abc": '"a b c"', "abd": '"a b d"', "abcd": '"a b c d"', "abce": '"a b c e"'}
    m = Matcher.from_rules(rules, engine="native")
    assert m.match("", "x a b c d y") == ["ab", "abc", "abcd"]
    assert m.match("a b d", "a b c e") == ["ab", "abc", "abce", "abd"]
    assert m.match("", "a b") == ["ab"]
    assert m.match("", "a c b d") == []
    story = "a b c d a b d a b c e"
    assert m.match("", story) == sorted(rules)
    for gone in ("abc", "ab", "abcd"):
        m.remove(gone)
        assert m.match("", story) == sorted(m)
    assert sorted(m) == ["abce", "abd"]
    m.add("abc", '"a b c"')
    assert m.match("", "a b c") == ["abc"]


@needs_native
def test_a_prefix_that_starts_and_stops_anchoring_rules():
    # Only prefixes that anchor rules have their postings looked at; a prefix can change sides.
    m = Matcher(engine="native")
    m.add("near", "opec NEAR/2 quot*")
    m.add("and", "output quot*")
    assert native.rule_spec(compile_rule("opec NEAR/2 quot*").nnf)[3] == [0]  # anchored on opec
    story = ("OPEC quotas", "output quota cut")
    assert m.match(*story) == ["and", "near"]
    m.add("alone", "quot*")
    assert m.match(*story) == ["alone", "and", "near"]
    assert m.match("", "quotation") == ["alone"]
    m.remove("alone")
    assert m.match(*story) == ["and", "near"]
    assert m.match("quota", "opec x y z quota") == []
    assert m.match("quota", "opec x y quota") == ["near"]


@needs_native
def test_a_token_with_many_prefixes():
    rules = {f"p{n}": "internationally"[:n] + "*" for n in range(2, 16)}
    m = Matcher.from_rules(rules, engine="native")
    assert m.match("", "internationally") == sorted(rules)
    assert m.match("internat", "") == sorted(f"p{n}" for n in range(2, 9))


@needs_native
def test_the_token_cache_is_trimmed_and_stays_exact():
    queries = ["alpha*", '"alpha beta"', '"beta gamma delta"', "delta NEAR/2 alph*", "gamma -epsilon"]
    # A word some rule names that starts more prefixes than fit in its entry.
    queries += ["alphabet", "al*", "alp*", "alph*"]
    fast, slow = native.NativeIndex(cached_tokens=8), PythonIndex()
    for i, q in enumerate(queries):
        fast.add(f"r{i}", compile_rule(q).nnf)
        slow.add(f"r{i}", compile_rule(q).nnf)
    rnd = random.Random(5)
    vocab = ["alpha", "alphabet", "beta", "gamma", "delta", "epsilon"] + [f"w{i}" for i in range(500)]
    for _ in range(400):
        title, body = rnd.choices(vocab, k=5), rnd.choices(vocab, k=30)
        assert fast.match(title, body) == slow.match(title, body)
        rules, keys, entries, cached = fast.stats()
        assert cached <= 8 + len(title) + len(body)
    assert rules == len(queries)


@needs_native
def test_matches_come_sorted_whatever_order_ids_arrive_in():
    # Each id falls between the last one and "b": the rank gaps run out and
    # every rank is given again.
    ids = ["a", "b"] + ["a" + "z" * k for k in range(1, 80)]
    rnd = random.Random(3)
    ids += [f"r{rnd.randrange(10**6):06d}" for _ in range(300)]
    ids = list(dict.fromkeys(ids))
    m = Matcher(engine="native")
    for i in ids:
        m.add(i, "oil")
    assert m.match("", "oil") == sorted(ids)
    for i in rnd.sample(ids, 100):
        m.remove(i)
        m.add(i + "!", "oil")
    assert m.match("", "oil") == sorted(m)


@needs_native
def test_removing_every_rule_leaves_no_keys_behind():
    m = Matcher(engine="native")
    queries = [q for q, _ in SHAPES.values()] * 3
    for i, q in enumerate(queries):
        m.add(f"r{i}", q)
    assert m._index.stats()[:2][0] == len(queries)
    for i in range(len(queries)):
        m.remove(f"r{i}")
    assert m._index.stats()[:2] == (0, 0)
    assert m.match("opec cut", "crude oil prices") == []


@needs_native
def test_changes_and_compaction_stay_exact():
    rnd = random.Random(11)
    words = [f"w{i}" for i in range(60)]
    fast, slow = native.NativeIndex(), PythonIndex()
    live: set[str] = set()
    for step in range(4000):
        rule_id = f"r{rnd.randrange(300)}"
        if rule_id in live:
            fast.remove(rule_id)
            slow.remove(rule_id)
            live.discard(rule_id)
        if rnd.random() < 0.7:
            a, b, c = rnd.sample(words, 3)
            query = rnd.choice([f'"{a} {b}"', f'"{a} {b} {c}"', f"{a[:2]}*", f"{a} {b}", f"{a} -{b}",
                                f"({a} OR {b}) {c}", f"{a} NEAR/1 {b}", f"title:{a} ({b} OR {c}) -{a}"])
            nnf = compile_rule(query).nnf
            fast.add(rule_id, nnf)
            slow.add(rule_id, nnf)
            live.add(rule_id)
        if step % 500 == 0:
            fast.compact()
        if step % 20 == 0:
            title, body = rnd.choices(words, k=6), rnd.choices(words, k=40)
            assert fast.match(title, body) == slow.match(title, body)


@needs_native
@pytest.mark.parametrize(
    "leaves, nears, program, anchors, decide",
    [
        ([(7, ["a"], 3)], [], [0], [0], (1, 0, 0)),  # unknown leaf kind
        ([(1, ["a"], 3)], [], [0], [0], (1, 0, 0)),  # a phrase of one token
        ([(0, ["a"], 0)], [], [0], [0], (1, 0, 0)),  # no field
        ([(0, ["a"], 3)], [], [0, 0], [0], (1, 0, 0)),  # two values left
        ([(0, ["a"], 3)], [], [3 << 24 | 2], [0], (1, 0, 0)),  # AND of too many
        ([(0, ["a"], 3)], [], [0], [1], (1, 0, 0)),  # anchor out of range
        ([(0, ["a"], 3)], [([0], [1], 2)], [1 << 24], [0], (0, 0, 0)),  # NEAR side out of range
        ([(0, ["a"], 3)], [], [0], [0], (2, 5, 0)),  # AND with a leaf out of range
        ([(0, ["a"], 3)], [], [0], [0], (9, 0, 0)),  # unknown mode
    ],
)
def test_a_malformed_rule_is_refused(leaves, nears, program, anchors, decide):
    core = native._native.Index()
    with pytest.raises(ValueError, match="malformed rule"):
        core.add("x", b"x", leaves, nears, program, anchors, decide)
    assert core.stats()[:2] == (0, 0)


@needs_native
def test_murmur2_is_kafkas_key_hash():
    from aiokafka.partitioner import murmur2

    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(40) for _ in range(50)]
    keys += [f"rule-{i:06d}".encode() for i in range(2000)] + ["règle-é".encode()]
    assert [native.murmur2(k) for k in keys] == [murmur2(k) for k in keys]
