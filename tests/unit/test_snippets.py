from wirewatch.snippets import LONGEST_HIT, lead, passages

TEXT = (
    "Chinese leader Xi Jinping will fly to Moscow next week to meet President Vladimir Putin "
    "on his first visit to Russia since Putin launched his devastating invasion of Ukraine."
)


def span(word: str, nth: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(word, start + 1)
    return start, start + len(word)


def test_marks_words_and_cuts_on_spaces():
    (p,) = passages(TEXT, [span("Moscow")], context=20)
    assert p.marked("[", "]") == "…will fly to [Moscow] next week to meet…"
    assert p.lead and p.trail


def test_near_spans_share_a_passage_far_ones_do_not():
    ps = passages(TEXT, [span("Xi"), span("Moscow"), span("Ukraine")], context=15)
    assert len(ps) == 2
    assert "[Xi]" in ps[0].marked("[", "]") and "[Moscow]" in ps[0].marked("[", "]")
    assert ps[1].marked("[", "]").endswith("[Ukraine].")
    assert not ps[1].trail


def test_overlapping_spans_merge_and_bad_spans_are_ignored():
    s, e = span("Vladimir Putin")
    (p,) = passages(TEXT, [(s, e - 3), (s + 9, e), (5000, 5010), (4, 4)], context=5)
    assert "[Vladimir Putin]" in p.marked("[", "]")


def test_no_spans_no_passages_and_a_limit():
    assert passages(TEXT, []) == ()
    spaced = " ".join(["word"] * 400)
    spans = [(i, i + 4) for i in range(0, len(spaced), 200)]
    assert len(passages(spaced, spans, context=10, limit=3)) == 3


def test_white_space_is_folded_without_gluing_words():
    (p,) = passages("a  b\n\n  oil   c", [(8, 11)], context=50)
    assert p.marked("[", "]") == "a b [oil] c"


def test_a_huge_span_is_cut():
    text = "x" * 1000
    (p,) = passages(text, [(0, 1000)], context=0)
    assert len(p.segments[0][0]) == LONGEST_HIT


def test_lead():
    assert lead("short  text\n") == "short text"
    assert lead(TEXT, 40) == "Chinese leader Xi Jinping will fly to…"
