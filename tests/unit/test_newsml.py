"""NewsML-G2 reader: the real documents of the shared corpus, then made-up edge cases."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from producers.sources import expand, newsml, read_file
from wirewatch.cli import app
from wirewatch.errors import InputError

UTC = timezone.utc


@pytest.fixture
def g2(corpus_dir) -> Path:
    return corpus_dir / "formats" / "newsml-g2"


def one(path: Path):
    (story,) = list(newsml.read(path))
    return story


def test_iptc_listing_1_embargo_update_signal_and_no_body(g2):
    s = one(g2 / "LISTING_1_A_NewsML-G2_News_Item.xml")
    assert s.id == "urn:newsml:acmenews.com:20161018:US-FINANCE-FED" and s.version == 11
    assert s.title == 'Fed to halt QE to avert "bubble"'
    assert s.embargo == datetime(2018, 10, 23, 12, tzinfo=UTC)
    assert s.signals == ("update",) and s.pubstatus == "usable"
    assert s.published == datetime(2018, 10, 21, 21, 25, 32, tzinfo=UTC)  # versionCreated, -05:00
    assert s.language == "en-GB" and s.urgency is None
    # The labour-market subject is named in en-GB and de: the story's language wins.
    assert s.subjects == ("economy, business and finance", "labour market")
    assert s.places == ("Berlin",) and s.source == "Example Enews LLP"
    assert s.body == ""  # its inlineXML holds only comments


def test_iptc_listing_2_nitf_body_content_only(g2):
    s = one(g2 / "LISTING_2_NewsML-G2_Text_Document.xml")
    assert s.id == "urn:newsml:acmenews.com:20161121:US-FINANCE-FED" and s.version == 11
    assert s.language == "en-US" and s.signals == () and s.embargo is None
    assert s.subjects == ("economy, business and finance", "central bank", "money and monetary policy")
    first, second = s.body.split("\n\n")
    # Source line breaks and indentation are gone; <body.head> (hedline, byline) is left out.
    assert first.startswith("(New York, NY - October 21) Et, sent luptat luptat, commy Nim zzriureet")
    assert first.endswith("ecte modoloreet ad ex el utat.")
    assert second.startswith("Ugiating ea feugait utat") and "Meredith Jameson" not in s.body


def test_iptc_listing_22_six_paragraphs_without_the_abstract(g2):
    s = one(g2 / "LISTING_22_Sports_story_in_NewsML-G2NITF.xml")
    assert s.id == "tag:xmlteam.com,2016:xt.5932656-preview"
    assert s.title == "Preview: Arizona Diamondbacks (29-23) at Philadelphia Phillies (26-24), 7:05 p.m."
    paragraphs = s.body.split("\n\n")
    assert len(paragraphs) == 6
    assert paragraphs[0].startswith("(Sports Network) - A pair of teams")
    assert "Ryan Howard flashed some of the power that won him the NL MVP" in paragraphs[4]
    assert "Philadelphia Phillies" in s.subjects and "Freddy Garcia" in s.subjects


def test_tt_message_without_namespace_text_item_only(g2):
    # A packageItem, a text newsItem and a picture newsItem, no xmlns anywhere.
    (s,) = list(newsml.read(g2 / "TT_newsmlg2_sample.xml"))
    assert s.id == "http://tt.se/media/text/210919-janguillou-879f202b" and s.version == 1
    assert s.title == 'Jan Guillou skriver på ny "Hamilton"-bok'
    assert s.urgency == 3 and s.language == "sv" and s.source == "TT"
    assert s.published == datetime(2021, 9, 19, 18, 57, 43, tzinfo=UTC)
    assert "Boken blir den elfte i serien om superagenten" in s.body
    assert "Arkivbild" not in s.body  # the picture's caption (<figure>) is not the story
    assert s.subjects[:2] == ("Litteratur", "Konst, kultur och nöje") and "Jan Guillou" in s.subjects


def test_dpa_flash_xhtml_body_without_its_header(g2):
    s = one(g2 / "dpa_eil.xml")
    assert s.id == "urn:newsml:dpa.com:20090101:240925-930-242744" and s.version == 1
    assert s.title == "Grünen-Spitze tritt nach Wahlniederlagen ab"
    assert s.urgency == 2 and s.language == "de" and s.source == "dpa"
    assert s.body.startswith("Berlin (dpa) - Die Grünen-Spitze zieht nach den Misserfolgen")
    assert "Ricarda Lang und Omid Nouripour" in s.body and "\n" not in s.body
    assert s.places == ("Deutschland",) and s.subjects == ("pl", "Partei")


def test_dpa_correction_is_version_2_with_its_signal(g2):
    s = one(g2 / "dpa_tvo_pol.xml")
    assert s.id == "urn:newsml:dpa.com:20090101:99-240924-240924082808397"
    assert s.version == 2 and s.signals == ("correction",) and s.pubstatus == "usable"
    assert s.urgency == 3
    assert "Hauptthemen" in s.body.split("\n\n")
    # <br/> breaks a line inside a paragraph.
    assert "Ansprechpartner:\nRedaktion Politik" in s.body


def test_xml_files_are_routed_to_the_newsml_reader(g2):
    files = [p for p in expand([g2]) if p.suffix == ".xml"]
    assert len(files) == 6
    stories = [s for p in files for s in read_file(p)]
    assert len(stories) == 6 and len({s.id for s in stories}) == 6


def test_wirewatch_match_reads_newsml(tmp_path, g2):
    (tmp_path / "rules.yaml").write_text("rules:\n  - id: gruene\n    query: title:Wahlniederlagen\n")
    result = CliRunner().invoke(app, ["match", "--rules", str(tmp_path / "rules.yaml"), str(g2 / "dpa_eil.xml")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"id": "urn:newsml:dpa.com:20090101:240925-930-242744", "rules": ["gruene"]}


# ---------------------------------------------------------------- made-up edge cases

MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>
<newsMessage xmlns="http://iptc.org/std/nar/2006-10-01/">
  <header><sent>2026-03-12T08:00:00Z</sent></header>
  <itemSet>
    <newsItem guid="urn:x:killed" version="3">
      <itemMeta><itemClass qcode="ninat:text"/><pubStatus qcode="stat:usable"/><signal qcode="sig:kill"/></itemMeta>
      <contentMeta><headline>Withdrawn story</headline></contentMeta>
    </newsItem>
    <newsItem version="2">
      <contentMeta><headline>No guid</headline></contentMeta>
    </newsItem>
    <newsItem guid="urn:x:canceled">
      <itemMeta><pubStatus uri="http://cv.iptc.org/newscodes/pubstatusg2/canceled"/></itemMeta>
      <contentMeta>
        <headline role="hlrole:sub">A subheading</headline>
        <headline>Main headline</headline>
        <urgency>1</urgency>
      </contentMeta>
      <contentSet><inlineData contenttype="text/html">&lt;p&gt;Fire at &lt;b&gt;the&lt;/b&gt; port.&lt;/p&gt;&lt;p&gt;More.&lt;/p&gt;</inlineData></contentSet>
    </newsItem>
    <newsItem guid="urn:x:badversion" version="two"><contentMeta><headline>x</headline></contentMeta></newsItem>
    <newsItem guid="urn:x:badurgency"><contentMeta><urgency>12</urgency></contentMeta></newsItem>
    <newsItem guid="urn:x:badstatus"><itemMeta><pubStatus qcode="stat:maybe"/></itemMeta></newsItem>
    <newsItem guid="urn:x:last"><itemMeta><embargoed></embargoed></itemMeta></newsItem>
  </itemSet>
</newsMessage>
"""


def test_message_of_several_items_kill_canceled_and_bad_items():
    problems = []
    stories = list(newsml.parse(MESSAGE, "m.xml", problems.append))
    assert [s.id for s in stories] == ["urn:x:killed", "urn:x:canceled", "urn:x:last"]
    killed, canceled, last = stories
    assert killed.version == 3 and killed.signals == ("kill",) and killed.pubstatus == "canceled"
    assert canceled.pubstatus == "canceled" and canceled.version == 1 and canceled.urgency == 1
    assert canceled.title == "Main headline" and canceled.body == "Fire at the port.\n\nMore."
    assert last.embargo is None  # an empty <embargoed/> has no time to hold the story until
    assert [p.where for p in problems] == [
        "m.xml[1]",
        "m.xml[3] (urn:x:badversion)",
        "m.xml[4] (urn:x:badurgency)",
        "m.xml[5] (urn:x:badstatus)",
    ]
    assert "no guid" in problems[0].message and "'two'" in problems[1].message
    assert "urgency" in problems[2].message and "stat:maybe" in problems[3].message


def test_no_bad_item_is_raised_without_on_error():
    with pytest.raises(InputError) as err:
        list(newsml.parse(MESSAGE, "m.xml"))
    assert err.value.where == "m.xml[1]"


def test_news_item_without_namespace_and_plain_inline_data():
    doc = b"""<newsItem guid="urn:x:plain" version="4" xml:lang="fr">
      <itemMeta><versionCreated>2026-03-12T09:30:00</versionCreated><provider qcode="nprov:AFP"/></itemMeta>
      <contentMeta><headline>Un titre</headline><located><name>Paris</name></located></contentMeta>
      <contentSet><inlineData contenttype="text/plain">
Premier paragraphe.

Second.
</inlineData></contentSet>
    </newsItem>"""
    (s,) = list(newsml.parse(doc, "p.xml"))
    assert (s.id, s.version, s.language, s.source) == ("urn:x:plain", 4, "fr", "AFP")
    assert s.published == datetime(2026, 3, 12, 9, 30, tzinfo=UTC)  # no offset: taken as UTC
    assert s.body == "Premier paragraphe.\n\nSecond." and s.places == ("Paris",)


def test_malformed_xml_names_the_file_line_and_column(tmp_path):
    bad = tmp_path / "broken.xml"
    bad.write_bytes(b'<newsItem guid="x">\n  <contentMeta><headline>Open</contentMeta>\n</newsItem>\n')
    problems = []
    assert list(read_file(bad, problems.append)) == []
    (p,) = problems
    assert p.where == f"{bad}:2:32" and "not well-formed XML: mismatched tag" in str(p)
    assert str(bad) in str(p)


def test_entity_expansion_is_refused(tmp_path):
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE newsItem [<!ENTITY lol0 "lol">{lol}]><newsItem guid="x">&lol9;</newsItem>'
    with pytest.raises(InputError) as err:
        list(newsml.parse(bomb, "bomb.xml"))
    assert err.value.where == "bomb.xml" and "entity declarations are refused" in err.value.message


def test_other_documents_are_not_news():
    with pytest.raises(InputError, match="not a NewsML-G2 newsItem or newsMessage: the document is a <packageItem>"):
        list(newsml.parse('<packageItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="p"/>', "pkg.xml"))
