"""Drop folders: which names are deliveries, which reader a file goes to, when a file is complete."""

from pathlib import Path

import pytest

from producers.ingest import documents, routing, schedule
from producers.ingest.state import State
from producers.ingest.identity import Seen
from wirewatch.errors import InputError


@pytest.mark.parametrize("name", [".upload.xml", "a.xml.tmp", "a.xml.part", "a.PARTIAL", "a.xml.filepart", "a.xml~", "~$a.xml", "a.xml.error.txt"])
def test_temporary_and_own_names_are_ignored(name):
    assert routing.ignored(name)


@pytest.mark.parametrize("name", ["a.xml", "story.json", "x.txt", "reut2-000.sgm", "NOSUFFIX"])
def test_deliveries_are_not_ignored(name):
    assert routing.ignored(name) is None


def test_kind_by_suffix_then_by_content(corpus_dir):
    formats = corpus_dir / "formats"
    for path in sorted((formats / "newsml-g2").glob("*.xml")):
        assert routing.kind_of(path.name, path.read_bytes()[:4096]) == "newsml", path
    for path in sorted((formats / "feeds").iterdir()):
        if path.suffix != ".md":
            assert routing.kind_of(path.name, path.read_bytes()[:4096]) == "feed", path
    assert routing.kind_of("a.json", b"{}") == "ninjs"
    assert routing.kind_of("reut2-000.sgm", b"") == "reuters"
    # No suffix: the first bytes say.
    g2 = (formats / "newsml-g2" / "dpa_eil.xml").read_bytes()
    assert routing.kind_of("20261204-123", g2[:4096]) == "newsml"
    assert routing.kind_of("20261204-124", b'\xef\xbb\xbf [{"uri": "x"}]') == "ninjs"
    assert routing.kind_of("X", b"<!DOCTYPE lewis SYSTEM \"lewis.dtd\">\n<REUTERS NEWID=\"1\">") == "reuters"
    assert routing.kind_of("notes", b"hello") is None
    assert routing.kind_of("page", b"<html><body/></html>") is None


def test_quiet_period_waits_for_a_file_to_stop_changing():
    quiet = routing.Quiet(5.0)
    assert not quiet.ready("a", 10, 1, now=0.0)   # first seen
    assert not quiet.ready("a", 20, 2, now=3.0)   # still growing
    assert not quiet.ready("a", 20, 2, now=7.0)   # 4 s quiet
    assert quiet.ready("a", 20, 2, now=8.0)       # 5 s quiet
    quiet.keep_only({"b"})
    assert not quiet.ready("a", 20, 2, now=9.0)   # gone and back: watched afresh


def test_documents_read_every_kind_of_the_corpus(corpus_dir):
    formats = corpus_dir / "formats"
    errors: list[InputError] = []
    g2 = documents.read("newsml", (formats / "newsml-g2" / "dpa_tvo_pol.xml").read_bytes(), "x", errors.append)
    ninjs = documents.read("ninjs", (formats / "ninjs" / "3.0_ntb_text.json").read_bytes(), "y", errors.append)
    feed = documents.read("feed", (formats / "feeds" / "uolNoticias.rss").read_bytes(), "z", errors.append)
    text = documents.read("text", "Headline\n\nBody text.".encode(), "drop:a.txt", errors.append)
    assert not errors
    assert g2 and ninjs[0].version == 6 and len(feed) > 5 and text[0].title == "Headline"


def test_story_json_and_ninjs_in_one_list_and_bad_items_named():
    errors: list[InputError] = []
    out = documents.json_stories(
        '[{"id": "s1", "source": "desk", "title": "T", "version": 2}, {"uri": "u1", "headline": "H"}, {"id": "s2"}, 7]',
        "push", errors.append,
    )
    assert [(s.id, s.version) for s in out] == [("s1", 2), ("u1", 1)]
    assert [e.where for e in errors] == ["push[2]", "push[3]"]
    assert "source" in errors[0].message
    with pytest.raises(InputError, match=r"push:1:2"):
        documents.json_stories("{oops", "push", errors.append)
    with pytest.raises(InputError, match="not UTF-8"):
        documents.read("ninjs", b'{"uri": "\xff"}', "push", errors.append)


def test_backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after():
    half, top = (lambda: 0.0), (lambda: 1.0)
    assert schedule.next_delay(300, 0, 3600, rand=half) == pytest.approx(270)
    assert schedule.next_delay(300, 0, 3600, rand=top) == pytest.approx(330)
    assert [schedule.next_delay(300, n, 3600, rand=top) for n in (1, 2, 3, 8)] == [30, 60, 120, 3600]
    assert schedule.next_delay(300, 1, 3600, rand=half) == 15
    assert schedule.next_delay(2, 1, 3600, rand=top) == 2
    assert schedule.next_delay(300, 1, 3600, retry_after=600, rand=top) == 600
    assert schedule.retry_after_seconds("120") == 120
    assert schedule.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert schedule.retry_after_seconds("soon") is None


def test_state_survives_reopening_and_keeps_validators_per_url(tmp_path: Path):
    state = State(tmp_path / "s.sqlite")
    state.record("feed", [("a", Seen("sha256:1", 1)), ("b", Seen("sha256:2", 3))], ("http://x/feed", '"e1"', "Tue, 01 Dec 2026 10:00:00 GMT"))
    state.close()
    again = State(tmp_path / "s.sqlite")
    assert again.seen("feed", "b") == Seen("sha256:2", 3)
    assert again.seen("other", "b") is None
    assert again.validators("feed", "http://x/feed") == ('"e1"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert again.validators("feed", "http://x/moved") == (None, None)
    assert again.forget_older_than(3600) == 0 and again.count("feed") == 2
    assert again.forget_older_than(-1) == 2


def test_a_feed_answering_304_keeps_its_items_remembered(tmp_path: Path, monkeypatch):
    import time as clock

    state = State(tmp_path / "s.sqlite")
    now = clock.time()
    monkeypatch.setattr(clock, "time", lambda: now - 100 * 86400)
    state.record("feed", [("a", Seen("sha256:1", 1))])
    state.record("other", [("b", Seen("sha256:2", 1))])
    monkeypatch.setattr(clock, "time", lambda: now)
    state.touch_source("feed")
    assert state.forget_older_than(90 * 86400) == 1
    assert state.seen("feed", "a") == Seen("sha256:1", 1) and state.seen("other", "b") is None
