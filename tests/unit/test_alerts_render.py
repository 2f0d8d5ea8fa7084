"""Email and Slack rendering: content, passages, escaping of hostile stories."""

import json
import re
from html.parser import HTMLParser

import pytest

from wirewatch import snippets
from alerts import render
from alerts.render import Templates
from wirewatch.model import Alert, Hit, Match, Story

HOSTILE_TITLE = 'Oil <script>alert("x")</script> & <!channel> *bold* _it_'
HOSTILE_BODY = (
    "Crude oil rose <b>sharply</b> as <!channel> traders & <@U123> read "
    "<http://evil.example|official statement> and *bold* `code` ~strike~ claims.\n> quoted line\n"
)


def match_for(story: Story, *words: str, rule_id: str = "oil") -> Match:
    hits = []
    for w in words:
        for field in ("title", "body"):
            text = getattr(story, field)
            for m in re.finditer(re.escape(w), text):
                hits.append(Hit(field=field, start=m.start(), end=m.end()))
    return Match(rule_id=rule_id, story=story, hits=tuple(hits))


def alert_for(*matches: Match, kind="instant", suppressed=0, rule_name="Oil <desk>") -> Alert:
    return Alert(
        alert_id="a1", rule_id="oil", rule_name=rule_name, kind=kind, channel="email",
        target="desk@example.com", matches=matches, suppressed=suppressed,
    )


def hostile_story(body_repeat: int = 1) -> Story:
    return Story(id="s:1", source="Wire <src>", title=HOSTILE_TITLE, body=HOSTILE_BODY * body_repeat, urgency=3,
                 url="https://news.example/s1?a=1&b=2")


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_passages_are_cut_around_hits_and_highlight_them():
    body = ("filler words " * 30) + "OPEC agreed to cut output" + (" more filler" * 30)
    story = Story(id="s", source="r", title="t", body=body)
    snips = render.snippets(story, match_for(story, "OPEC", "cut").hits)
    assert len(snips) == 1
    snip = snips[0]
    assert snip.lead and snip.trail
    assert [t for t, hit in snip.segments if hit] == ["OPEC", "cut"]
    assert len(snip.plain) < 2 * snippets.CONTEXT + 40
    assert not snip.plain.startswith("iller")  # cut at a word boundary


def test_far_apart_hits_give_separate_passages_at_most_three():
    body = " ".join(f"word{i}" for i in range(2000))
    story = Story(id="s", source="r", body=body)
    hits = tuple(Hit(field="body", start=body.index(f"word{i} "), end=body.index(f"word{i} ") + len(f"word{i}")) for i in (100, 500, 900, 1300))
    snips = render.snippets(story, hits)
    assert len(snips) == snippets.LIMIT
    assert [[t for t, h in s.segments if h] for s in snips] == [["word100"], ["word500"], ["word900"]]


def test_without_hits_the_story_opening_is_shown():
    story = Story(id="s", source="r", title="A title", body="First line of the story.\nSecond line " + "x " * 300)
    snips = render.snippets(story, ())
    assert snips[0].plain.startswith("First line of the story. Second line")
    assert not snips[0].lead and snips[0].trail
    assert all(not h for s in snips for _, h in s.segments)


def test_hits_that_do_not_fit_the_text_are_ignored():
    story = Story(id="s", source="r", title="short", body="tiny body")
    hits = (Hit(field="body", start=5, end=999), Hit(field="title", start=3, end=2), Hit(field="body", start=0, end=4))
    snips = render.snippets(story, hits)
    assert [[t for t, h in s.segments if h] for s in snips] == [["tiny"]]
    assert render.headline(story, hits) == (("short", False),)


def test_headline_is_cut_and_falls_back_to_the_body():
    long_title = "word " * 200
    heads = render.headline(Story(id="s", source="r", title=long_title), ())
    assert heads[-1] == ("…", False)
    assert len("".join(t for t, _ in heads)) <= render.HEADLINE_CHARS + 1
    assert render.headline(Story(id="s", source="r", body="Body only story here"), ()) == (("Body only story here …", False),)
    assert render.headline(Story(id="s", source="r"), ()) == (("(untitled story)", False),)


def test_html_email_escapes_everything_from_the_story():
    content = render.email(alert_for(match_for(hostile_story(), "Oil", "oil", "claims")), Templates())
    parser = Tags()
    parser.feed(content.html)
    # Only the template's own tags: nothing from the story became markup.
    assert parser.tags <= {"html", "head", "meta", "title", "body", "p", "strong", "div", "h2", "a", "mark"}
    text = "".join(parser.text)
    assert '<script>alert("x")</script>' in text and "<b>sharply</b>" in text and "<!channel>" in text
    assert "<src>" in text and "Oil <desk>" in text
    assert 'href="https://news.example/s1?a=1&amp;b=2"' in content.html
    assert content.html.count("<mark") == 3  # title "Oil", body "oil", "claims"


def test_text_email_and_subject():
    content = render.email(alert_for(match_for(hostile_story(), "oil")), Templates())
    assert content.subject == f"[WireWatch] Oil <desk>: {render.header_text(HOSTILE_TITLE)}"
    assert "Crude *oil* rose <b>sharply</b>" in content.text
    assert "Wire <src> | " in content.text and "urgency 3" in content.text
    assert "https://news.example/s1?a=1&b=2" in content.text
    assert 'rule "oil"' in content.text


def test_subject_never_carries_a_line_break():
    story = Story(id="s", source="r", title="Line one\r\nBcc: victim@example.com\x00", body="b")
    subject = render.email(alert_for(Match(rule_id="oil", story=story)), Templates()).subject
    assert "\n" not in subject and "\r" not in subject and "\x00" not in subject
    assert subject.endswith("Line one Bcc: victim@example.com")


def test_very_long_body_renders_short_everywhere():
    story = hostile_story(body_repeat=5000)  # ~700 kB
    m = match_for(story, "claims")
    content = render.email(alert_for(m), Templates())
    assert len(content.html) < 10_000 and len(content.text) < 5_000
    payload = render.slack(alert_for(m))
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if b["type"] == "section")
    assert len(json.dumps(payload)) < 10_000


def test_compact_keeps_what_the_alert_shows():
    story = hostile_story(body_repeat=5000)
    m = match_for(story, "claims")
    small = render.compact(m)
    assert len(small.story.body) < 3000
    assert render.snippets(small.story, small.hits)[0].segments == render.snippets(story, m.hits)[0].segments
    for h in small.hits:
        text = small.story.title if h.field == "title" else small.story.body
        assert text[h.start:h.end] == "claims"
    short = match_for(Story(id="x", source="r", body="short body"), "short")
    assert render.compact(short) is short


def test_slack_payload_escapes_story_text():
    payload = render.slack(alert_for(match_for(hostile_story(), "oil", "claims")))
    dumped = json.dumps(payload, ensure_ascii=False)
    # No story text can become a mention, a link or formatting.
    for danger in ("<!channel>", "<@U123>", "<http://evil", "<b>", "<script>", "*bold*", "_it_", "`code`", "~strike~"):
        assert danger not in dumped, danger
    item = payload["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt;" in item and "&lt;@U123&gt;" in item
    assert "&lt;http://evil.example|official statement&gt;" in item
    assert "\u2217bold\u2217" in item  # look-alike asterisks, shown but not formatting
    assert "Crude *oil* rose" in item  # our own highlight is real mrkdwn
    assert "Wire &lt;src&gt;" in item
    assert "*WireWatch · Oil &lt;desk&gt;*" in payload["blocks"][0]["text"]["text"]
    assert payload["text"].startswith("WireWatch Oil &lt;desk&gt;: Oil &lt;script&gt;")
    # The story's own link is kept, with & escaped for mrkdwn.
    assert "<https://news.example/s1?a=1&amp;b=2|" in item


def test_slack_escape_neutralises_a_leading_quote():
    assert render.slack_escape("> not a quote") == "\u00ad&gt; not a quote"
    assert render.slack_escape("a & b") == "a &amp; b"


def test_links_go_to_search_when_configured_and_never_to_unsafe_urls():
    story = Story(id="reuters-21578:42", source="r", url="javascript:alert(1)")
    assert render.story_link(story, None) is None
    template = "http://localhost:5601/app/discover#/?_a=(query:(language:kuery,query:'_id:\"{story_id}\"'))"
    link = render.story_link(story, template)
    assert link.endswith("_id:\"reuters-21578%3A42\"'))")
    assert render.safe_url('https://x.example/"><script>') is None
    assert render.safe_url("https://x.example/a?b=c") == "https://x.example/a?b=c"


def test_with_a_kibana_url_alerts_link_to_the_story_in_the_rules_saved_search():
    from datetime import datetime, timezone
    from urllib.parse import unquote

    from wirewatch.kibana import objects
    from wirewatch.settings import Settings

    story = Story(id="s'1 & 2", source="r", title="Oil", body="oil", url="https://news.example/1",
                  published=datetime(2024, 5, 2, 10, 0, tzinfo=timezone.utc))
    settings = Settings(kibana_url="http://kibana.example:5601", index="ix")
    link = render.story_link(story, render.search_link(settings, "oil"))
    assert link == objects.discover_story_url("http://kibana.example:5601", "ix", "oil", story.id, story.published)
    assert link.startswith(f"http://kibana.example:5601/app/discover#/view/{objects.rule_search_id('ix', 'oil')}?_g=")
    assert "query:'story_id:\"s!'1 & 2\"'" in unquote(link)
    content = render.email(alert_for(match_for(story, "oil")), Templates(), render.search_link(settings, "oil"))
    from markupsafe import escape

    assert str(escape(link)) in content.html and link in content.text
    slack = json.dumps(render.slack(alert_for(match_for(story, "oil")), render.search_link(settings, "oil")))
    texts = [b["text"]["text"] for b in json.loads(slack)["blocks"] if "text" in b]
    assert any(f"<{link.replace('&', '&amp;')}|Oil>" in t for t in texts)
    # An explicit template wins; neither set: the story's own URL.
    templated = Settings(kibana_url="http://kibana.example:5601", kibana_url_template="http://s/{story_id}")
    assert render.story_link(story, render.search_link(templated, "oil")) == "http://s/s%271%20%26%202"
    assert render.story_link(story, render.search_link(Settings(), "oil")) == "https://news.example/1"


def test_digest_and_summary_wording():
    stories = [Story(id=f"s{i}", source="r", title=f"Story {i}", body="oil " * 5) for i in range(30)]
    matches = tuple(match_for(s, "oil") for s in stories)
    digest = render.email(alert_for(*matches, kind="digest", suppressed=4), Templates())
    assert digest.subject == "[WireWatch] Oil <desk>: digest of 34 stories"
    assert "1. Story 0" in digest.text and "30. Story 29" in digest.text
    assert "... and 4 more not listed here." in digest.text
    slack = render.slack(alert_for(*matches, kind="digest", suppressed=4))
    assert len(slack["blocks"]) == 1 + render.SLACK_ITEMS + 1
    assert slack["blocks"][-1]["elements"][0]["text"] == "… and 14 more not listed here"
    summary = render.email(alert_for(*[render.without_body(m) for m in matches[:3]], kind="summary", suppressed=97), Templates())
    assert summary.subject == "[WireWatch] Oil <desk>: 100 more matches held back"
    assert "matched 100 more stories than its flood limit" in summary.text


def test_templates_can_be_overridden_from_a_folder(tmp_path):
    (tmp_path / "subject.txt.j2").write_text("ALERT {{ alert.rule_id }} ({{ alert.total }})")
    content = render.email(alert_for(match_for(hostile_story(), "oil")), Templates(tmp_path))
    assert content.subject == "ALERT oil (1)"
    assert "WireWatch alert: Oil <desk>" in content.text  # the others stay built in


def test_an_override_with_a_mistake_fails_loudly(tmp_path):
    from jinja2 import UndefinedError

    (tmp_path / "email.txt.j2").write_text("{{ alert.no_such_thing }}")
    with pytest.raises(UndefinedError):
        render.email(alert_for(match_for(hostile_story(), "oil")), Templates(tmp_path))


def test_withdrawn_notice_says_so_and_escapes_the_story():
    killed = Story(id="s:1", version=4, source="Wire <src>", title=HOSTILE_TITLE, body="", signals=("kill",))
    alert = alert_for(Match(rule_id="oil", story=killed), kind="withdrawn")
    content = render.email(alert, Templates())
    assert content.subject.startswith("[WireWatch] WITHDRAWN: Oil <script>")
    assert "WITHDRAWN by its agency" in content.text and "story s:1, withdrawn in version 4" in content.text
    assert "<script>" not in content.html and "&lt;script&gt;" in content.html and "WITHDRAWN" in content.html
    payload = render.slack(alert)
    dumped = json.dumps(payload, ensure_ascii=False)
    assert "WITHDRAWN" in payload["blocks"][0]["text"]["text"] and payload["text"].startswith("WireWatch Oil &lt;desk&gt;: WITHDRAWN: ")
    assert "<!channel>" not in dumped and "<script>" not in dumped
    assert payload["metadata"]["event_payload"] == {"alert_id": alert.alert_id, "rule_id": "oil", "kind": "withdrawn"}
