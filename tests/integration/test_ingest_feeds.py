"""`wirewatch ingest` polling real HTTP feeds on 127.0.0.1 into the real Kafka.

The feeds are the corpus's real documents (a Latin-1 feed served with a
lying charset, one that is not well-formed XML), changed between polls: new
items, an edited item, 304s, 500s, a slow answer, a redirect, a page that is
no feed, and a restart in the middle.  Every story must arrive once per
version.
"""

from __future__ import annotations

import re

from support.ingest import FeedServer, Ingest, sent_stories, versions
from support.kafka import topic_records
from wirewatch.model import DeadLetter
from support.poll import wait_for

ITEM = re.compile(r"<item>.*?</item>", re.S)


def split(doc: str) -> tuple[str, list[str], str]:
    items = ITEM.findall(doc)
    return doc[: doc.index(items[0])], items, doc[doc.index(items[-1]) + len(items[-1]) :]


def guid(item: str) -> str:
    return re.search(r"<guid[^>]*>([^<]+)</guid>", item).group(1)


def test_feeds_new_edited_304_500_slow_and_a_restart(kafka_settings, tmp_path, corpus_dir):
    feeds = corpus_dir / "formats" / "feeds"
    head, items, tail = split((feeds / "guardian.rss").read_text(encoding="utf-8"))

    empty = "<item><guid>urn:empty-item</guid></item>"  # unreadable: parked once, however often it is polled

    def guardian(its: list[str]) -> bytes:
        return (head + "".join([*its, empty]) + tail).encode()

    uol = (feeds / "uolNoticias.rss").read_bytes()
    server = FeedServer()
    server.serve("/guardian", guardian(items[:50]))
    # Latin-1 with no declaration, and a server that says UTF-8; Last-Modified, no ETag.
    server.serve("/uol", uol, "text/xml; charset=utf-8", etag=False, modified="Mon, 24 Sep 2018 21:00:00 GMT")
    # Not well-formed (text before the XML declaration) and no ETag: fetched in full every time.
    server.serve("/techcrunch", (feeds / "TechCrunch.xml").read_bytes(), etag=False)
    server.serve("/page", b"<html><body><p>Not a feed</p></body></html>", "text/html")
    server.serve("/huge", (feeds / "heise.atom").read_bytes(), "application/atom+xml")
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "status_every: 1s\n"
        "sources:\n"
        f"  - {{name: guardian, kind: feed, url: '{server.url}/moved/guardian', interval: 0.3s, timeout: 5s}}\n"
        f"  - {{name: uol, kind: feed, url: '{server.url}/uol', interval: 0.3s, max_backoff: 1s}}\n"
        f"  - {{name: techcrunch, kind: feed, url: '{server.url}/techcrunch', interval: 0.5s, timeout: 1s, max_backoff: 1s}}\n"
        f"  - {{name: page, kind: feed, url: '{server.url}/page', interval: 1s, max_backoff: 2s}}\n"
        f"  - {{name: huge, kind: feed, url: '{server.url}/huge', interval: 1s, max_backoff: 2s, max_bytes: 4096}}\n"
    )
    topic = kafka_settings.stories_topic

    def on_topic():
        return versions(sent_stories(kafka_settings, topic))

    ingest = Ingest(kafka_settings, sources, tmp_path / "ingest-1.log")
    try:
        # Every item of the three feeds, once, version 1.
        expected = {(guid(i), 1) for i in items[:50]}
        got = wait_for(lambda: (c := on_topic()) and len(c) >= 85 and c, timeout=30, what="85 stories")
        assert expected <= set(got), "guardian items missing"
        assert sum(1 for k in got if k[0].startswith("http://techcrunch.com/?p=")) == 20
        uol_stories = [s for s in sent_stories(kafka_settings, topic) if s.source == "UOL Noticias"]
        assert len(uol_stories) == 15 and "simulações" in uol_stories[0].title
        assert set(got.values()) == {1}

        # Polled again with the ETag: 304, nothing sent.
        wait_for(lambda: 304 in server.answered("/guardian"), timeout=10, what="a 304")
        conditional = [h for p, s, h in server.requests if p == "/guardian" and s == 304]
        assert conditional[0].get("If-None-Match")
        wait_for(lambda: 304 in server.answered("/uol"), timeout=10, what="a 304 by Last-Modified")
        assert [h for p, s, h in server.requests if p == "/uol" and s == 304][0]["If-Modified-Since"] == "Mon, 24 Sep 2018 21:00:00 GMT"

        # Two new items and an edited one.
        edited = items[0].replace("</description>", " UPDATED: more detail.</description>", 1)
        server.serve("/guardian", guardian([edited, *items[1:52]]))
        expected |= {(guid(items[0]), 2), (guid(items[50]), 1), (guid(items[51]), 1)}
        wait_for(lambda: expected <= set(on_topic()), timeout=15, what="the new items and the edit as version 2")
        updated = [s for s in sent_stories(kafka_settings, topic) if s.id == guid(items[0]) and s.version == 2]
        assert "UPDATED: more detail." in updated[0].body

        # A feed that answers 500 twice, then has a new item; one that is too slow once.
        server.fail_next("/uol", 500, 500)
        server.slow_next("/techcrunch", 3)
        extra = re.sub(r"(<link><!\[CDATA\[)[^\]]+", r"\1https://noticias.uol.com.br/extra/1.htm", uol.decode("latin-1"), count=1)
        server.serve("/uol", extra.encode("latin-1"), "text/xml; charset=utf-8", etag=False, modified="Mon, 24 Sep 2018 22:00:00 GMT")
        wait_for(lambda: ("https://noticias.uol.com.br/extra/1.htm", 1) in on_topic(), timeout=15, what="the item after two 500s")
        assert server.answered("/uol").count(500) == 2
        wait_for(lambda: "within 1 s" in (ingest.counters("techcrunch").get("last_error") or ""), timeout=15, what="the slow answer reported")
        wait_for(lambda: ingest.counters("techcrunch").get("failures_in_a_row") == 0, timeout=15, what="techcrunch polled fine again")
        page = wait_for(lambda: ingest.counters("page").get("failed"), timeout=10, what="the page reported")
        assert page >= 1 and "not an RSS or Atom feed" in ingest.counters("page")["last_error"]
        huge = wait_for(lambda: ingest.counters("huge").get("last_error"), timeout=10, what="the huge feed refused")
        assert "more than max_bytes (4096)" in huge
        uol_counters = ingest.counters("uol")
        assert uol_counters["failed"] >= 2 and "HTTP 500" in uol_counters["last_error"]
        assert ingest.proc.poll() is None
    finally:
        assert ingest.stop() == 0, ingest.output()[-3000:]
    assert "ingest stopped" in ingest.output()

    # Changed while ingest was down: one more new item and one more edit.
    edited_1 = items[1].replace("</title>", " (updated)</title>", 1)
    server.serve("/guardian", guardian([edited, edited_1, *items[2:53]]))
    expected |= {(guid(items[1]), 2), (guid(items[52]), 1)}
    restarted = Ingest(kafka_settings, sources, tmp_path / "ingest-2.log")
    try:
        wait_for(lambda: expected <= set(on_topic()), timeout=20, what="what changed while ingest was down")
        # A few more rounds of every feed: nothing more is sent.
        polls = len(server.answered("/techcrunch"))
        wait_for(lambda: len(server.answered("/techcrunch")) >= polls + 3, timeout=15, what="more polls")
        final = on_topic()
        doubled = {k: n for k, n in final.items() if n > 1}
        assert not doubled, f"sent more than once: {doubled}"
        assert len(final) == 85 + 3 + 1 + 2
        [parked] = [DeadLetter.from_json(r.value) for r in topic_records(kafka_settings, kafka_settings.deadletter_topic)]
        assert parked.stage == "ingest:guardian" and "feed item has neither a title nor any text" in parked.reason
        assert "urn:empty-item" in parked.payload
    finally:
        assert restarted.stop() == 0
        server.close()
