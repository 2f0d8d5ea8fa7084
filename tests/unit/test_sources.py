"""Story readers: ids and fields exactly as the watch-query spec fixes them."""

from datetime import datetime, timezone
from pathlib import Path

import pytest

from producers.sources import expand, read_file, read_stories
from producers.sources import jsonl, ninjs, plaintext, reuters
from wirewatch.errors import InputError

DATA = Path(__file__).parent / "data"

SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5544" NEWID="1">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TOPICS><D>cocoa</D></TOPICS>
<PLACES><D>el-salvador</D><D>usa</D></PLACES>
<TEXT>&#2;
<TITLE>BAHIA COCOA &lt;REVIEW&gt;</TITLE>
<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers continued &amp; more.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="2">
<DATE> 2-MAR-1987 016:51:50.12</DATE>
<TEXT TYPE="BRIEF">&#2;
******<TITLE>SHORT ITEM</TITLE>
<AUTHOR>by someone</AUTHOR>
Blah blah blah.
&#3;
</TEXT>
</REUTERS>
<REUTERS NEWID="3">
<DATE>bad date</DATE>
<TEXT TYPE="UNPROC">&#2;
FEDERAL RESERVE MONEY SUPPLY REPORT
&#3;</TEXT>
</REUTERS>
<REUTERS OLDID="9">
<TEXT><TITLE>no newid</TITLE></TEXT>
</REUTERS>
"""


def test_reuters_fields_follow_the_spec():
    problems = []
    stories = list(reuters.parse(SGML, "x.sgm", problems.append))
    assert [s.id for s in stories] == ["reuters-21578:1", "reuters-21578:2", "reuters-21578:3"]
    first, brief, unproc = stories
    assert first.title == "BAHIA COCOA <REVIEW>"
    # html.unescape drops the control characters &#2; and &#3;, as the spec says.
    assert first.body == "Showers continued & more.\n Reuter\n"
    assert first.published == datetime(1987, 2, 26, 15, 1, 1, tzinfo=timezone.utc)
    assert first.subjects == ("cocoa",) and first.places == ("el-salvador", "usa")
    # No <BODY>: the text of <TEXT> without TITLE, DATELINE and AUTHOR.
    assert brief.title == "SHORT ITEM"
    assert brief.body == "\n******\n\nBlah blah blah.\n\n"
    assert brief.published == datetime(1987, 3, 2, 16, 51, 50, tzinfo=timezone.utc)
    assert unproc.title == "" and "FEDERAL RESERVE MONEY SUPPLY REPORT" in unproc.body
    assert unproc.published is None
    assert len(problems) == 1 and problems[0].where == "x.sgm:27" and "NEWID" in problems[0].message


def test_reuters_corpus_has_18000_unique_stories(corpus_dir):
    files = sorted((corpus_dir / "reuters21578").glob("*.sgm"))
    stories = list(read_stories(files))
    assert len(stories) == 18000
    assert len({s.id for s in stories}) == 18000


def test_plain_text_headline_and_body(tmp_path):
    p = tmp_path / "story one.txt"
    p.write_text("\n\n  Xi meets Putin  \nline two\n\nline four\n", encoding="utf-8")
    s = plaintext.read(p)
    assert s.id == "file:story one.txt"
    assert s.title == "Xi meets Putin"
    assert s.body == "line two\n\nline four"


def test_plain_text_empty_and_not_utf8(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n\n")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    problems = []
    assert list(read_stories([tmp_path], problems.append)) == []
    reasons = sorted(str(p) for p in problems)
    assert "empty.txt: story is empty" in reasons[0]
    assert "latin.txt: not UTF-8" in reasons[1]


def test_ninjs_1():
    (s,) = list(ninjs.read(DATA / "ninjs1.json"))
    assert s.id == "urn:newsml:example.com:20260312:lethal-aid-1"
    assert s.version == 3
    assert s.title == "Allies weigh lethal aid package"
    assert s.body.endswith("deadly military aid.")
    assert s.published == datetime(2026, 3, 12, 8, 30, tzinfo=timezone.utc)
    assert s.urgency == 2 and s.language == "en"
    assert s.subjects == ("politics",) and s.places == ("Brussels",)


def test_ninjs_2_list_with_bad_items():
    problems = []
    stories = list(ninjs.read(DATA / "ninjs2.json", problems.append))
    assert len(stories) == 1
    s = stories[0]
    assert s.title == "Peace talks resume in Geneva"
    assert s.body == "Envoys met again.\n\nA&B <agreed>."  # paragraphs apart, as every reader gives them
    assert s.pubstatus == "canceled" and s.version == 2
    assert [p.where for p in problems] == [f"{DATA / 'ninjs2.json'}[1]", f"{DATA / 'ninjs2.json'}[2]"]


def test_ninjs_not_json_says_where():
    with pytest.raises(InputError) as err:
        list(ninjs.parse('{"uri": ', "bad.json"))
    assert err.value.where.startswith("bad.json:1:")


def test_jsonl_round_trip_and_bad_line(tmp_path):
    (s,) = list(ninjs.read(DATA / "ninjs1.json"))
    p = tmp_path / "s.jsonl"
    p.write_bytes(s.to_json() + b"\n{not json}\n\n" + s.model_copy(update={"version": 4}).to_json() + b"\n")
    problems = []
    got = list(jsonl.read(p, problems.append))
    assert got == [s, s.model_copy(update={"version": 4})]
    assert problems[0].where == f"{p}:2"


def test_unknown_suffix_and_missing_file_are_reported(tmp_path):
    problems = []
    assert list(read_file(tmp_path / "a.csv", problems.append)) == []
    assert list(read_file(tmp_path / "gone.sgm", problems.append)) == []
    assert "unknown kind of story file" in str(problems[0])
    assert "cannot read" in str(problems[1])


def test_expand_sorts_and_filters(tmp_path):
    for name in ["b.txt", "a.sgm", "c.csv", "d/e.json"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in expand([tmp_path])] == ["a.sgm", "b.txt", "d/e.json"]


# ---------------------------------------------------------------- ninjs 3.0 and 1.x body_xhtml, from the shared corpus


def test_ninjs_3_reads_like_the_same_item_in_2_1(corpus_dir):
    folder = corpus_dir / "formats" / "ninjs"
    (v3,) = list(ninjs.read(folder / "3.0_ntb_text.json"))
    (v2,) = list(ninjs.read(folder / "2.1_ntb_text.json"))
    assert v3.id == "urn:8d19cf88-b3ab-4972-8fec-1207599f2872" and v3.version == 6
    assert v3.title == "Google har kjøpt giganttomt i Skien"
    # camelCase keys: versionCreated, pubStatus, copyrightHolder.
    assert v3.published == datetime(2019, 8, 9, 9, 46, 53, tzinfo=timezone.utc)
    assert v3.source == "NTB" and v3.pubstatus == "usable"
    assert v3.urgency == 5 and v3.language == "nb-NO"
    assert v3.subjects == ("Innenriks", "Teknologi", "Industri", "Olje og energi") and v3.places == ("Telemark",)
    # No body: its description is the text a rule can match.
    assert v3.body == "IT-giganten Google har kjøpt en tomt på nærmere 2.000 mål i Skien i tilfelle det blir behov for flere datasentre i Europa."
    assert v3.model_copy(update={"received": v2.received}) == v2


def test_ninjs_3_bodies_content_type_and_embargo():
    doc = """{"uri": "urn:x:1", "version": "2", "pubStatus": "withheld", "embargoedUntil": "2026-03-01T10:00:00+01:00",
              "headlines": [{"value": "Held"}],
              "bodies": [{"role": "html", "contentType": "text/html", "value": "<p>One</p><p>Two</p>"}]}"""
    (s,) = list(ninjs.parse(doc, "x.json"))
    assert s.pubstatus == "withheld" and s.embargo == datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    assert s.body == "One\n\nTwo"
    (old,) = list(ninjs.parse('{"uri": "urn:x:2", "embargoed": "2026-03-01T09:00:00Z"}', "y.json"))
    assert old.embargo == s.embargo


def test_ninjs_a_body_comes_before_a_description():
    (with_body,) = list(ninjs.parse('{"uri": "u", "body_text": "Body.", "description_text": "Desc."}', "a.json"))
    (html,) = list(ninjs.parse('{"uri": "u", "descriptions": [{"value": " "}, {"contenttype": "text/html", "value": "<p>D</p>"}]}', "b.json"))
    assert (with_body.body, html.body) == ("Body.", "D")


def test_ninjs_1_xhtml_body(corpus_dir):
    (s,) = list(ninjs.read(corpus_dir / "formats" / "ninjs" / "1.4_businesswire-newsml-20130605006126.json"))
    assert s.language == "zh" and "Gartner" in s.title
    assert "Cambrios" in s.body and "<" not in s.body
