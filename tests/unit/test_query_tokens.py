import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from spec_model import spec_tokens

from wirewatch.query.tokens import _TOKEN, token_spans, tokens


def test_spec_examples():
    assert tokens("Xi’s") == ["xi", "s"]
    assert tokens("U.S.") == ["u", "s"]
    assert tokens("full-scale") == ["full", "scale"]
    assert tokens("1,750") == ["1", "750"]


def test_normalisation_is_nfkc_then_casefold():
    assert tokens("STRASSE Straße ﬁne ＡＢＣ") == ["strasse", "strasse", "fine", "abc"]
    assert tokens("cafe\u0301") == ["café"]  # composed by NFKC
    assert tokens("under_score") == ["under", "score"]  # "_" is not a letter or digit
    assert tokens("x\u0301\u0302y") == ["x\u0301\u0302y"]  # marks join the token
    assert tokens("\u0301a") == ["\u0301a"]


def test_token_character_class_agrees_with_the_spec_on_every_code_point():
    wrong = [
        cp
        for cp in range(sys.maxunicode + 1)
        if chr(cp) != "_"
        and (_TOKEN.fullmatch(chr(cp)) is not None)
        != (chr(cp).isalnum() or unicodedata.category(chr(cp)).startswith("M"))
    ]
    assert wrong == []


@settings(max_examples=500)
@given(st.text())
def test_tokens_agree_with_the_spec_on_any_text(text):
    assert tokens(text) == spec_tokens(text)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_shortcut_agrees(text):
    assert tokens(text) == spec_tokens(text)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(list("aéßİﬁ1 .-’\u0301\u00adK") + ["e\u0301", "\u1100\u1161"])).map("".join))
def test_spans_point_at_the_tokens_in_the_original_text(text):
    spans = token_spans(text)
    assert [t for t, _, _ in spans] == tokens(text)
    for tok, start, end in spans:
        assert 0 <= start < end <= len(text)
        assert tok in spec_tokens(text[start:end]) or "".join(spec_tokens(text[start:end])) == tok


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_spans_are_the_tokens_exactly(text):
    spans = token_spans(text)
    assert [t for t, _, _ in spans] == tokens(text)
    assert all(text[start:end].lower() == tok for tok, start, end in spans)


def test_spans_for_a_curly_quote_story():
    text = "Xi’s visit: Putin’s ‘peace talks’"
    assert [(t, text[s:e]) for t, s, e in token_spans(text)] == [
        ("xi", "Xi"), ("s", "s"), ("visit", "visit"), ("putin", "Putin"), ("s", "s"), ("peace", "peace"), ("talks", "talks"),
    ]
