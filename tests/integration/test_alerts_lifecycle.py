"""Kills and embargoes in the alert stage across redeliveries and restarts:
a real Faust worker (alerts alone) on real Kafka, a real SMTP server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alerts_worker import AlertsWorker, settle
from support.poll import wait_for
from support.servers import SmtpServer

from wirewatch.model import Match, Story, Withdrawal
from wirewatch.pipeline.tables import by_hash

pytestmark = pytest.mark.integration


def story(sid: str, title: str, version: int = 1, **kw) -> Story:
    return Story(id=sid, source="Test Wire", title=title, body=f"{title} wirewatch", version=version, **kw)


def subjects(smtp: SmtpServer, address: str) -> list[str]:
    return sorted(m["Subject"].strip() for m, rcpts in smtp.sink.received() if address in rcpts)


def send_withdrawal(worker: AlertsWorker, killed: Story) -> None:
    """What the match stage sends for a kill: one Withdrawal on every partition of the matches topic."""
    value = Withdrawal(withdrawn=killed.model_copy(update={"body": ""})).to_json()
    producer = worker.producer()
    for partition in range(worker.settings.partitions):
        producer.send(worker.settings.matches_topic, key=killed.id.encode(), value=value, partition=partition)
    producer.flush()


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_withdrawn_notice_is_sent_once_across_redeliveries_and_a_crash(tmp_path, kafka_bootstrap, smtp):
    # "oil" and "energy" live on different partitions (of 2): both@ is
    # alerted by each, on each partition, and still gets one notice.
    assert by_hash(2)(b"oil") != by_hash(2)(b"energy")
    rules = [{"id": "oil", "subscribers": [{"email": "oil@example.com"}, {"email": "both@example.com"}]},
             {"id": "energy", "subscribers": [{"email": "both@example.com"}]},
             {"id": "other", "subscribers": [{"email": "other@example.com"}]}]
    worker = AlertsWorker(tmp_path, rules, kafka_bootstrap, smtp_port=smtp.port)
    try:
        live = story("k1", "Oil prices climb")
        killed = story("k1", "KILL: Oil prices climb", version=2, pubstatus="canceled")
        worker.send_matches([Match(rule_id="oil", story=live), Match(rule_id="energy", story=live),
                             Match(rule_id="other", story=story("o1", "Other story"))])
        worker.start()
        wait_for(lambda: len(subjects(smtp, "both@example.com")) == 2, 60, what="the alerts")
        send_withdrawal(worker, killed)
        send_withdrawal(worker, killed)  # redelivered
        wait_for(lambda: len(subjects(smtp, "oil@example.com")) >= 2, 60, what="the notice")
        wait_for(lambda: len(subjects(smtp, "both@example.com")) >= 3, 60, what="the notice to both@")

        # A crash, then the kill once more and the old version's match
        # (redelivered by a match stage that crashed too): nothing more.
        worker.kill()
        send_withdrawal(worker, killed)
        worker.send_matches([Match(rule_id="oil", story=live), Match(rule_id="oil", story=story("k2", "Oil sentinel"))])
        worker.start()
        wait_for(lambda: "[WireWatch] oil: Oil sentinel" in subjects(smtp, "oil@example.com"), 90, what="the sentinel")
        settle(2)  # a doubled notice would come with the sentinel
        assert subjects(smtp, "oil@example.com") == [
            "[WireWatch] WITHDRAWN: Oil prices climb (oil)", "[WireWatch] oil: Oil prices climb", "[WireWatch] oil: Oil sentinel"]
        assert subjects(smtp, "other@example.com") == ["[WireWatch] other: Other story"]
        both = subjects(smtp, "both@example.com")
        assert both[1:] == ["[WireWatch] energy: Oil prices climb", "[WireWatch] oil: Oil prices climb", "[WireWatch] oil: Oil sentinel"]
        assert both[0] in ("[WireWatch] WITHDRAWN: Oil prices climb (oil)", "[WireWatch] WITHDRAWN: Oil prices climb (energy)")
        assert "story=k1 v2 already withdrawn" in worker.all_logs()
    finally:
        worker.close()


def test_embargoed_match_survives_a_restart_and_alerts_once_after_the_embargo(tmp_path, kafka_bootstrap, smtp):
    rules = [{"id": "nickel", "subscribers": [{"email": "nickel@example.com"}]}]
    worker = AlertsWorker(tmp_path, rules, kafka_bootstrap, smtp_port=smtp.port)
    try:
        worker.start()
        embargo = datetime.now(timezone.utc) + timedelta(seconds=12)
        held = story("e1", "Nickel merger", embargo=embargo)
        worker.send_matches([Match(rule_id="nickel", story=held)])
        wait_for(lambda: "story=e1 v1 under embargo" in worker.log(), 30, what="the decision")
        worker.stop()  # a restart while the embargo holds
        worker.send_matches([Match(rule_id="nickel", story=held)])  # and a redelivery
        worker.start()
        if datetime.now(timezone.utc) >= embargo:
            pytest.fail("the worker restarted after the embargo lifted: the test machine is too slow for this test")
        assert not subjects(smtp, "nickel@example.com")
        wait_for(lambda: subjects(smtp, "nickel@example.com"), 60, what="the alert after the embargo")
        assert datetime.now(timezone.utc) >= embargo
        settle(2)
        assert subjects(smtp, "nickel@example.com") == ["[WireWatch] nickel: Nickel merger"]
    finally:
        worker.close()

