"""Preview highlighting: where a query's words occur in a story."""

from alerts.hits import guess_hits, tokens
from wirewatch.model import Story

STORY = Story(
    id="x", source="r", title="Xi’s visit: Putin hosts Xi in Moscow",
    body="OPEC agreed cuts to output quotas; Iran objected. The U.S. said full-scale peace talks resume.",
)


def found(query: str) -> list[tuple[str, str]]:
    return [(h.field, getattr(STORY, h.field)[h.start:h.end]) for h in guess_hits(query, STORY)]


def test_tokens_follow_the_spec():
    assert [t for t, _, _ in tokens("Xi’s U.S. full-scale 1,750 ＡＢＣ")] == ["xi", "s", "u", "s", "full", "scale", "1", "750", "abc"]


def test_terms_prefixes_phrases_and_scopes():
    assert found("title:(Xi OR Putin) (Moscow OR Kremlin)") == [
        ("title", "Xi"), ("title", "Putin"), ("title", "Xi"), ("title", "Moscow")
    ]
    assert found("OPEC NEAR/5 (cut* OR quota*) -Iran") == [("body", "OPEC"), ("body", "cuts"), ("body", "quotas")]
    assert found('"peace talks" U.S.') == [("body", "U.S"), ("body", "peace talks")]
    assert found("body: full-scale") == [("body", "full-scale")]


def test_negated_words_are_not_highlighted():
    assert found("NOT Moscow Xi") == [("title", "Xi"), ("title", "Xi")]
    assert found('Iran -"peace talks"') == [("body", "Iran")]
    assert found("OPEC NOT (Iran OR Moscow)") == [("body", "OPEC")]
