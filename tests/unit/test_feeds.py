"""RSS / Atom items as stories: the captured feeds of the shared corpus, then made-up edge cases."""

from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest

from producers.sources import feeds, read_file
from producers.sources.fingerprint import fingerprint
from wirewatch.errors import InputError

UTC = timezone.utc


@pytest.fixture
def folder(corpus_dir) -> Path:
    return corpus_dir / "formats" / "feeds"


def read(path: Path):
    problems = []
    stories = list(read_file(path, problems.append))
    assert problems == []
    return stories


def test_guardian_rss(folder):
    stories = read(folder / "guardian.rss")
    assert len(stories) == 55 and len({s.id for s in stories}) == 55
    s = stories[0]
    url = "https://www.theguardian.com/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord"
    assert s.id == url and s.url == url and s.version == 1
    assert s.title == "Trump State of the Union address promised unity but emphasized discord"
    assert s.source == "The Guardian" and s.language == "en-gb"
    assert s.published == datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)
    assert s.subjects[:3] == ("Donald Trump", "State of the Union address", "US news")
    # The entity-escaped HTML description, as paragraphs without markup.
    assert s.body.split("\n\n")[0] == (
        "The president’s ‘new American moment’ speech stirred Republican applause while Democrats showed thinly disguised contempt"
    )
    assert "<" not in s.body


def test_techcrunch_not_well_formed_still_gives_its_items_with_full_text(folder):
    # A newline before the XML declaration: strict XML parsers refuse the file.
    data = (folder / "TechCrunch.xml").read_bytes()
    assert data.startswith(b"\n<?xml") and feedparser.parse(data).bozo
    stories = read(folder / "TechCrunch.xml")  # .xml, but its root is <rss>: read as a feed
    assert len(stories) == 20
    s = stories[0]
    assert s.id == "http://techcrunch.com/?p=446154"  # guid isPermaLink="false", not the link
    assert s.url == "http://feedproxy.google.com/~r/Techcrunch/~3/kTeeGj4FnwU/"
    assert s.title == "Angie’s List Sets Price Range IPO At $11 To $13 Per Share; Valued At Over $600M"
    assert "has just set the terms for its IPO" in s.body  # content:encoded, not the short description
    assert s.published == datetime(2011, 11, 2, 17, 25, 27, tzinfo=UTC)


def test_uol_latin1_without_guid_or_declaration(folder):
    stories = read(folder / "uolNoticias.rss")
    assert len(stories) == 15
    s = stories[0]
    assert s.id == s.url == (
        "https://noticias.uol.com.br/politica/eleicoes/2018/noticias/2018/09/24/"
        "ibope-bolsonaro-perde-de-haddad-ciro-e-alckmin-em-simulacoes-de-2-turno.htm"
    )
    assert s.title == "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    assert s.body.startswith("Líder na pesquisa Ibope de intenção de voto")
    assert s.published is None  # "Seg, 24 Set 2018 19:42:40 -0300": Portuguese names, not RFC 822


def test_atom_heise_and_google_alerts(folder):
    heise = read(folder / "heise.atom")
    assert len(heise) == 15
    h = heise[0]
    assert h.id == "http://heise.de/-3088438" and h.title == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei"
    assert h.published == datetime(2016, 2, 1, 16, 22, tzinfo=UTC)  # 17:22 +01:00
    assert h.body.startswith("Die nun verfügbare Version 10 des Enterprise-Java-Servers")
    alerts = read(folder / "google_alerts_atom.xml")
    assert len(alerts) == 20
    a = alerts[0]
    assert a.id == "tag:google.com,2013:googlealerts/feed:8974135267215335962"
    # title type="html" with <b> around the alert's word
    assert a.title.startswith("Report offers Prediction of Automotive Slack Market by Top key players")
    assert a.source == "Google Alert - Slack"


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<item><title>Quake hits coast</title><description>First words.</description><guid>w-1</guid></item>
<item><title>No id at all</title><description>Only words.</description></item>
<item><description></description></item>
</channel></rss>
"""


def test_identity_guid_else_link_else_content_hash_and_empty_item():
    problems = []
    first, no_id = list(feeds.parse(RSS, "wire.rss", problems.append))
    assert first.id == "w-1" and first.source == "Wire" and first.url is None
    assert no_id.id.startswith("sha256:") and no_id.url is None
    again = list(feeds.parse(RSS.replace("<title>Wire</title>", "<title>Other</title>"), "x.rss", lambda e: None))
    assert again[1].id == no_id.id  # the same words give the same id
    assert [(p.where, p.message) for p in problems] == [("wire.rss[2]", "feed item has neither a title nor any text")]


def test_same_id_changed_content_is_a_new_fingerprint():
    (before, _) = list(feeds.parse(RSS, "t1", lambda e: None))
    edited = RSS.replace("First words.", "First words, corrected.")
    redated = RSS.replace("<guid>w-1</guid>", "<guid>w-1</guid><pubDate>Thu, 12 Mar 2026 08:00:00 GMT</pubDate>")
    (after, _) = list(feeds.parse(edited, "t2", lambda e: None))
    (same, _) = list(feeds.parse(redated, "t3", lambda e: None))
    assert after.id == before.id == same.id
    assert fingerprint(after) != fingerprint(before)
    assert fingerprint(same) == fingerprint(before) and same.published is not None
    assert fingerprint(before).startswith("sha256:") and len(fingerprint(before)) == 71


def test_stories_from_an_already_parsed_feed_and_a_source_of_ones_own():
    parsed = feedparser.parse(RSS.encode())
    (s,) = list(feeds.stories(parsed, "w", source="wire-desk", on_error=lambda e: None))[:1]
    assert s.source == "wire-desk"


def test_not_a_feed():
    with pytest.raises(InputError) as err:
        list(feeds.parse(b"just some words", "words.rss"))
    assert err.value.where == "words.rss" and err.value.message.startswith("not an RSS or Atom feed")


def test_looks_like_feed(folder, corpus_dir):
    assert feeds.looks_like_feed((folder / "TechCrunch.xml").read_bytes())
    assert feeds.looks_like_feed(b'<!-- x --><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>')
    for g2 in (corpus_dir / "formats" / "newsml-g2").glob("*.xml"):
        assert not feeds.looks_like_feed(g2.read_bytes())
