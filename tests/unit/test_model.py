from datetime import datetime, timedelta, timezone

import pytest

from wirewatch.errors import InputError
from wirewatch.model import DeadLetter, Match, MatchedStory, Story


def test_story_json_round_trip_and_utc():
    s = Story(id="x:1", source="x", title="T", body="B", published=datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=1))))
    assert s.published == datetime(2026, 1, 1, 8, tzinfo=timezone.utc)
    again = Story.from_json(s.to_json())
    assert again == s
    assert b'"published":"2026-01-01T08:00:00Z"' in s.to_json()


def test_naive_times_are_utc():
    s = Story(id="x:1", source="x", published=datetime(2026, 1, 1, 9))
    assert s.published.tzinfo == timezone.utc and s.published.hour == 9


def test_bad_story_says_what_and_where():
    with pytest.raises(InputError) as err:
        Story.from_json(b'{"id": "", "source": "x", "urgency": 12}', where="t[0]@5")
    text = str(err.value)
    assert text.startswith("t[0]@5: not a valid Story")
    assert "id:" in text and "urgency:" in text
    with pytest.raises(InputError):
        Story.from_json(b"\xff\xfe not json")


def test_unknown_fields_are_ignored_for_forward_compatibility():
    s = Story.from_json(b'{"id": "a", "source": "s", "new_field": 1}')
    assert s.id == "a"


def test_match_and_matched_story_carry_the_story():
    s = Story(id="x:1", source="x")
    assert Match.from_json(Match(rule_id="r", story=s).to_json()).story == s
    assert MatchedStory.from_json(MatchedStory(story=s, rules=("a", "b")).to_json()).rules == ("a", "b")


def test_dead_letter_keeps_bytes_and_origin():
    dl = DeadLetter.for_message(stage="match", error=ValueError("boom"), payload=b"\xff\x00", key=b"k", topic="t", partition=2, offset=7)
    assert dl.payload_encoding == "base64" and dl.raw_payload() == b"\xff\x00"
    assert (dl.topic, dl.partition, dl.offset, dl.key, dl.reason, dl.error_type) == ("t", 2, 7, "k", "boom", "ValueError")
    text = DeadLetter.for_message(stage="s", error=RuntimeError(), payload=b"{oops")
    assert text.payload == "{oops" and text.reason == "RuntimeError"


def test_embargo_and_signals_are_optional_so_older_messages_decode():
    old = Story.from_json(b'{"id": "a", "source": "s", "pubstatus": "usable"}')
    assert old.embargo is None and old.signals == ()
    s = Story(id="a", source="s", embargo=datetime(2026, 1, 1, 13, tzinfo=timezone(timedelta(hours=1))), signals=("update",))
    again = Story.from_json(s.to_json())
    assert again == s and again.embargo == datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
