"""The alert stage in a real Faust worker over real Kafka, delivering to real
SMTP and HTTP servers: content and escaping, digests, quiet hours, once-only,
flood control, dead letters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from alerts_worker import AlertsWorker
from support.servers import SmtpServer, start_fake_slack
from support.poll import wait_for

from wirewatch.model import Hit, Match, Story

pytestmark = pytest.mark.integration

HOSTILE_TITLE = "Oil <img src=x onerror=alert(1)> <!channel> *bold*"
HOSTILE_BODY = "Traders <script>steal()</script> <!here> <@U1> <http://evil.example|click> *bold* say crude oil jumped. " * 2000


def story(sid: str, title: str, body: str = "crude oil prices rose", version: int = 1, urgency: int | None = None) -> Story:
    return Story(id=sid, source="Test Wire", title=title, body=body, version=version, urgency=urgency)


def match(rule_id: str, s: Story) -> Match:
    hits = []
    i = s.body.find("oil")
    if i >= 0:
        hits.append(Hit(field="body", start=i, end=i + 3))
    return Match(rule_id=rule_id, story=s, hits=tuple(hits))


def mails_to(smtp: SmtpServer, address: str):
    return [m for m, rcpts in smtp.sink.received() if address in rcpts]


@pytest.fixture(scope="module")
def world(tmp_path_factory, kafka_bootstrap):
    tmp = tmp_path_factory.mktemp("alerts-pipeline")
    smtp = SmtpServer().start()
    smtp.sink.refuse["gone@example.com"] = "550 5.1.1 no such user"
    slack = start_fake_slack()
    slack.reply("/services/T/B/gone", *[(404, "no_service", {})] * 3)
    slack.reply("/services/T/B/limited", (429, "rate_limited", {"Retry-After": "1"}))

    now = datetime.now(timezone.utc)
    # Quiet hours are given to the minute: the first minute at least 40 s away
    # (time for the urgent alert to get through before it), so 40 to 100 s.
    quiet_end = (now + timedelta(seconds=100)).replace(second=0, microsecond=0)
    quiet = {"start": (now - timedelta(hours=1)).strftime("%H:%M"), "end": quiet_end.strftime("%H:%M"), "tz": "UTC"}
    hook = f"{slack.url}/services/T/B"
    rules = [
        {"id": "content", "name": "Hostile <desk>", "query": "oil",
         "subscribers": [{"email": "desk@example.com"}, {"slack_webhook": f"{hook}/content"}, {"slack_channel": "#energy"}]},
        {"id": "digest", "subscribers": [{"email": "digest@example.com", "mode": "digest", "every": 0.15}]},
        {"id": "quiet", "subscribers": [{"email": "night@example.com", "quiet_hours": quiet, "min_urgency": 1}]},
        {"id": "flood", "realert": {"max": 5, "minutes": 0.5},
         "subscribers": [{"email": "flood@example.com"}, {"slack_webhook": f"{hook}/flood"}]},
        {"id": "dedupe", "subscribers": [{"email": "dedupe@example.com"}]},
        {"id": "dedupe-b", "subscribers": [{"email": "dedupe-b@example.com"}]},
        {"id": "refused", "subscribers": [{"email": "gone@example.com"}, {"slack_webhook": f"{hook}/gone"}]},
        {"id": "limited", "subscribers": [{"slack_webhook": f"{hook}/limited"}]},
    ]
    worker = AlertsWorker(tmp, rules, kafka_bootstrap, smtp_port=smtp.port, slack_api_url=f"{slack.url}/api/", slack_bot_token="xoxb-test")

    # Everything is sent up front, so the slow cases (quiet hours) run while the others are checked.
    worker.send_matches([
        match("quiet", story("q-calm", "Calm night story")),
        match("quiet", story("q-urgent", "Urgent night story", urgency=1)),
        match("content", story("hostile", HOSTILE_TITLE, HOSTILE_BODY, urgency=2)),
        *[match("digest", story(f"d{i}", f"Digest story {i}")) for i in range(3)],
        match("dedupe", story("dup", "Dup story v1")),
        match("dedupe", story("dup", "Dup story v1")),  # redelivered
        match("dedupe", story("dup", "Dup story v2", version=2)),  # updated, same rule
        match("dedupe-b", story("dup", "Dup story v2", version=2)),  # updated, matches a new rule
        match("dedupe", story("dup-sentinel", "Dup sentinel")),
        match("refused", story("r1", "Refused story")),
        match("limited", story("l1", "Limited story")),
    ])
    worker.send_raw(b"content", b"{not json")
    worker.start()
    worker.send_matches([match("flood", story(f"f{i:03d}", f"Flood story {i}")) for i in range(500)])
    yield worker, smtp, slack, quiet_end
    worker.close()
    smtp.stop()
    slack.server.shutdown()


def test_hostile_story_is_delivered_escaped_everywhere(world):
    worker, smtp, slack, _ = world
    [mail] = wait_for(lambda: mails_to(smtp, "desk@example.com"), 30, what="the email")
    assert mail["Subject"].strip() == f"[WireWatch] Hostile <desk>: {HOSTILE_TITLE}"
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert "crude <mark" in html and ">oil</mark> jumped" in html
    assert "crude *oil* jumped" in text and "Test Wire | " in text and "urgency 2" in text
    assert len(html) < 20_000  # 200 kB of story, a short mail

    [hook] = wait_for(lambda: slack.posted("/services/T/B/content"), 30, what="the webhook post")
    [api] = wait_for(lambda: slack.posted("/api/chat.postMessage"), 30, what="the chat.postMessage call")
    assert api.body["channel"] == "#energy" and api.headers["Authorization"] == "Bearer xoxb-test"
    for payload in (hook.body, api.body):
        dumped = json.dumps(payload, ensure_ascii=False)
        for danger in ("<!channel>", "<!here>", "<@U1>", "<http://evil", "<script>", "<img", "*bold*"):
            assert danger not in dumped, danger
        assert "&lt;!channel&gt;" in dumped and "crude *oil* jumped" in dumped
        assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if "text" in b)


def test_digest_groups_matches_into_one_message(world):
    worker, smtp, _, _ = world
    [mail] = wait_for(lambda: mails_to(smtp, "digest@example.com"), 60, what="the digest")
    assert mail["Subject"].strip() == "[WireWatch] digest: digest of 3 stories"
    text = mail.get_body(("plain",)).get_content()
    assert all(f"Digest story {i}" in text for i in range(3))


def test_once_per_rule_and_story(world):
    worker, smtp, _, _ = world
    wait_for(lambda: len(mails_to(smtp, "dedupe@example.com")) >= 2, 60, what="the sentinel")
    subjects = sorted(m["Subject"].strip() for m in mails_to(smtp, "dedupe@example.com"))
    # The redelivery and the new version of "dup" for the same rule sent nothing more.
    assert subjects == ["[WireWatch] dedupe: Dup sentinel", "[WireWatch] dedupe: Dup story v1"]
    # The new version matched a rule it had not matched before: that rule alerts.
    [b] = wait_for(lambda: mails_to(smtp, "dedupe-b@example.com"), 30, what="the new rule's alert")
    assert b["Subject"].strip() == "[WireWatch] dedupe-b: Dup story v2"


def test_flood_gives_at_most_max_instant_alerts_and_one_summary(world):
    worker, smtp, slack, _ = world
    wait_for(lambda: any("held back" in m["Subject"] for m in mails_to(smtp, "flood@example.com")), 90, what="the flood summary")
    wait_for(lambda: len(slack.posted("/services/T/B/flood")) >= 6, 30, what="the Slack summary")
    mails = mails_to(smtp, "flood@example.com")
    instant = [m for m in mails if "held back" not in m["Subject"]]
    summaries = [m for m in mails if "held back" in m["Subject"]]
    assert len(instant) == 5 and len(summaries) == 1
    assert summaries[0]["Subject"].strip() == "[WireWatch] flood: 495 more matches held back"
    assert "... and 445 more not listed here." in summaries[0].get_body(("plain",)).get_content()
    posts = slack.posted("/services/T/B/flood")
    assert len(posts) == 6
    assert "495 more matches held back" in posts[-1].body["blocks"][0]["text"]["text"]


def test_quiet_hours_hold_all_but_urgent_until_they_end(world):
    worker, smtp, _, quiet_end = world
    first = wait_for(lambda: mails_to(smtp, "night@example.com"), 30, what="the urgent alert")
    assert [m["Subject"].strip() for m in first] == ["[WireWatch] quiet: Urgent night story"]
    assert datetime.now(timezone.utc) < quiet_end, "the test machine is too slow for this quiet window"
    later = wait_for(lambda: mails_to(smtp, "night@example.com")[1:], 200, what="the digest after quiet hours")
    assert datetime.now(timezone.utc) >= quiet_end
    [digest] = later
    assert digest["Subject"].strip() == "[WireWatch] quiet: digest of 1 story"
    assert "Calm night story" in digest.get_body(("plain",)).get_content()


def test_rate_limited_slack_is_retried_after_its_wait(world):
    worker, smtp, slack, _ = world
    posts = wait_for(lambda: slack.posted("/services/T/B/limited")[1:] and slack.posted("/services/T/B/limited"), 30, what="the retry")
    assert len(posts) == 2
    assert "Limited story" in json.dumps(posts[1].body)


def test_permanent_failures_and_bad_messages_go_to_the_dead_letter_topic(world):
    worker, smtp, slack, _ = world

    def letters():
        found = worker.read(worker.settings.deadletter_topic, timeout=2)
        return found if len(found) >= 3 else None

    found = wait_for(letters, 60, 1, "three dead letters")
    by_reason = {d["reason"]: d for d in found}
    refused = [d for d in found if "550 5.1.1" in d["reason"]]
    webhook = [d for d in found if "answered 404" in d["reason"]]
    garbage = [d for d in found if d.get("topic") == worker.settings.matches_topic]
    assert len(refused) == 1 and "no such user" in refused[0]["reason"] and refused[0]["stage"] == "alerts"
    assert json.loads(refused[0]["payload"])["target"] == "gone@example.com"
    assert len(webhook) == 1 and "hooks" not in webhook[0]["payload"]  # the secret URL is not in the letter
    assert len(garbage) == 1 and garbage[0]["payload"] == "{not json" and garbage[0]["offset"] is not None
    assert len(by_reason) == 3
    assert len(slack.posted("/services/T/B/gone")) == 1  # a 404 is not retried
    assert "FAILED alert=" in worker.log()
