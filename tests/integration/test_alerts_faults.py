"""Faults: a mail server that goes away and comes back, and worker restarts
in the middle, over real Kafka, SMTP and HTTP."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from alerts_worker import AlertsWorker
from support.servers import SmtpServer, free_port, slack  # noqa: F401 - fixture
from support.poll import wait_for

from wirewatch.model import Match, Story

pytestmark = pytest.mark.integration


def matches(rule_id: str, prefix: str, n: int, start: int = 0) -> list[Match]:
    return [Match(rule_id=rule_id, story=Story(id=f"{prefix}{i}", source="Wire", title=f"{prefix} story {i}", body="oil"))
            for i in range(start, start + n)]


def stories_in(posts) -> Counter:
    return Counter(p.body["text"].split(": ", 1)[1] for p in posts)


def test_mail_server_down_then_back_with_a_worker_crash_in_between(tmp_path, slack, kafka_bootstrap):
    port = free_port()
    smtp = SmtpServer(port)  # not started: the mail server is down
    rules = [
        {"id": "mail", "realert": False, "subscribers": [{"email": "desk@example.com"}]},
        {"id": "chat", "realert": False, "subscribers": [{"slack_webhook": f"{slack.url}/services/T/B/chat"}]},
    ]
    worker = AlertsWorker(tmp_path, rules, kafka_bootstrap, smtp_port=port, retry_horizon_seconds=300)
    try:
        worker.start()
        worker.send_matches(matches("mail", "m", 20) + matches("chat", "c", 20))

        # Matches keep flowing: Slack gets every alert while email keeps failing.
        wait_for(lambda: len(slack.posted()) >= 20, 60, what="Slack alerts during the mail outage")
        decided = wait_for(
            lambda: [a for a in worker.read(worker.settings.alerts_topic, 1) if a["channel"] == "email"][19:] and
            [a for a in worker.read(worker.settings.alerts_topic, 1) if a["channel"] == "email"], 60, 1,
            "all email alerts decided",
        )
        assert len(decided) == 20
        wait_for(lambda: worker.log().count("alerts: retry alert=") >= 20, 30, what="email retries")

        # The worker dies hard in the middle of retrying; more matches arrive while it is down.
        worker.kill()
        worker.send_matches(matches("mail", "m", 10, start=20) + matches("chat", "c", 10, start=20))
        smtp.start()
        worker.start()

        wait_for(lambda: len(smtp.messages) >= 30, 90, what="every email after the server came back")
        wait_for(lambda: len(slack.posted()) >= 30, 60, what="every Slack alert after the restart")
        # Sentinels go through the same partitions after everything else: once they are
        # delivered, anything the restart could have duplicated would have been sent.
        worker.send_matches(matches("mail", "mail-sentinel", 1) + matches("chat", "chat-sentinel", 1))
        wait_for(lambda: len(smtp.messages) >= 31 and len(slack.posted()) >= 31, 60, what="the sentinels")

        ids = Counter(m["X-WireWatch-Alert"] for m in smtp.messages)
        assert len(ids) == 31 and set(ids.values()) == {1}, ids.most_common(3)
        subjects = Counter(m["Subject"].strip() for m in smtp.messages)
        assert set(subjects.values()) == {1}
        assert {f"[WireWatch] mail: m story {i}" for i in range(30)} <= set(subjects)
        chat = stories_in(slack.posted())
        assert set(chat.values()) == {1} and len(chat) == 31
        assert worker.read(worker.settings.deadletter_topic, 1) == []
    finally:
        worker.close()
        smtp.stop()


def test_graceful_restart_while_delivering_sends_each_alert_once(tmp_path, slack, kafka_bootstrap):
    # A slow mail server, so the stop finds sends in progress (they must finish and be recorded).
    smtp = SmtpServer(delay=0.3).start()
    rules = [{"id": "mail", "realert": False, "subscribers": [{"email": "desk@example.com"},
                                                              {"slack_webhook": f"{slack.url}/services/T/B/chat"}]}]
    worker = AlertsWorker(tmp_path, rules, kafka_bootstrap, smtp_port=smtp.port)
    try:
        worker.start()
        worker.send_matches(matches("mail", "g", 150))
        wait_for(lambda: len(smtp.messages) >= 10, 60, 0.02, what="deliveries under way")
        worker.stop(signal.SIGTERM)
        partway = len(smtp.messages)
        worker.start()
        wait_for(lambda: len(smtp.messages) >= 150 and len(slack.posted()) >= 150, 120, what="every alert")
        worker.send_matches(matches("mail", "sentinel", 1))
        wait_for(lambda: len(smtp.messages) >= 151 and len(slack.posted()) >= 151, 60, what="the sentinel")
        ids = Counter(m["X-WireWatch-Alert"] for m in smtp.messages)
        assert len(ids) == 151 and set(ids.values()) == {1}, (partway, ids.most_common(3))
        chat = stories_in(slack.posted())
        assert len(chat) == 151 and set(chat.values()) == {1}
        assert partway < 150, "the restart came after all deliveries: the test proved nothing"
        assert "sends in progress" in worker.log(1)
    finally:
        worker.close()
        smtp.stop()
