"""Story lifecycle end to end: stories on real Kafka, a real `wirewatch worker`
(match, index, alerts), real Elasticsearch, a real SMTP server and a Slack
stand-in on 127.0.0.1.

- an update alerts only for the rule it newly matches;
- a kill hides the story from search, sends one "withdrawn" notice to each
  person alerted about it and nothing to anyone else, and takes it out of a
  flood summary and a digest that had not gone out yet;
- an embargoed story is searchable at once and alerts after the embargo.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from alerts_worker import settle
from producers.kafka_sink import StorySink
from support import names
from support.poll import wait_for
from support.processes import Worker, run
from support.servers import SmtpServer, start_fake_slack

from wirewatch import topics
from wirewatch.model import Story
from wirewatch.settings import Settings

pytestmark = pytest.mark.integration

EMBARGO_AHEAD = timedelta(seconds=15)


def story(sid: str, title: str, body: str = "", version: int = 1, **kw) -> Story:
    return Story(id=sid, source="Test Wire", title=title, body=body or title, version=version, **kw)


def subjects(smtp: SmtpServer, address: str) -> list[str]:
    return sorted(m["Subject"].strip() for m, rcpts in smtp.sink.received() if address in rcpts)


def mail(smtp: SmtpServer, address: str, part: str) -> list:
    return [m for m, rcpts in smtp.sink.received() if address in rcpts and part in m["Subject"]]


def search(settings: Settings, *args: str) -> dict[str, dict]:
    done = run(settings, "search", *args, "--json", "--size", "100", timeout=120)
    assert done.returncode == 0, done.stderr
    docs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {d["story_id"]: d for d in docs}


@pytest.fixture(scope="module")
def world(tmp_path_factory, kafka_bootstrap, es_url):
    tmp = tmp_path_factory.mktemp("lifecycle")
    name = names.fresh()
    smtp = SmtpServer().start()
    slack = start_fake_slack()
    hook = f"{slack.url}/services/T/B/oil"
    rules = [
        {"id": "oil", "query": "oil", "subscribers": [{"email": "oil@example.com"}, {"email": "both@example.com"},
                                                      {"slack_webhook": hook}]},
        {"id": "gas", "query": "gas", "subscribers": [{"email": "gas@example.com"}, {"email": "both@example.com"}]},
        {"id": "cocoa", "query": "cocoa", "subscribers": [{"email": "cocoa@example.com"}]},
        {"id": "zinc", "query": "zinc", "realert": {"max": 1, "minutes": 0.5}, "subscribers": [{"email": "zinc@example.com"}]},
        {"id": "copper", "query": "copper", "subscribers": [{"email": "copper@example.com", "mode": "digest", "every": 0.3}]},
        {"id": "nickel", "query": "nickel", "subscribers": [{"email": "nickel@example.com"}]},
    ]
    rules_file = tmp / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"rules": rules}))
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, es_url=es_url, topic_prefix=name, index=name, app_id=name,
        home=tmp / "home", partitions=2, smtp_port=smtp.port, alerts_tick_seconds=0.5,
    )
    topics.ensure(settings)  # before the first story, or Kafka makes its topic with its own partition count
    worker = Worker(settings, tmp / "worker.log", "--rules", str(rules_file))
    sink = StorySink(settings)
    try:
        # The first zinc story opens the flood window: sent alone, and waited
        # for, so that the next two are the ones held (and the worker is up).
        sink.send(story("z1", "Zinc one"))
        sink.flush()
        wait_for(lambda: subjects(smtp, "zinc@example.com"), 180, 0.5, "the worker's first alert")

        for s in [
            story("upd", "Oil prices climb"),
            story("upd", "Oil and gas prices climb", version=2, signals=("update",)),
            story("cocoa1", "Cocoa harvest"),
            story("c1", "Copper one"), story("c2", "Copper two"),
            story("z2", "Zinc two"), story("z3", "Zinc three"),
        ]:
            sink.send(s)
        sink.flush()
        # What alerted gets its alert before the kill (a kill of a story
        # alerted at once is what owes a notice).
        wait_for(lambda: subjects(smtp, "gas@example.com"), 60, what="the update's alert")
        for s in [
            story("upd", "KILL: Oil prices climb", "Withdrawn: the story about oil is wrong.", version=3, signals=("kill",)),
            story("c1", "Copper one", version=2, pubstatus="canceled"),
            story("z2", "Zinc two", version=2, pubstatus="canceled"),
            story("oil-live", "Oil output steady"),
        ]:
            sink.send(s)
        sink.flush()
        yield settings, worker, smtp, slack, sink
    finally:
        sink.close()
        worker.stop()
        smtp.stop()
        slack.server.shutdown()
        from streams import elastic

        es = elastic.sync_client(settings)
        es.indices.delete(index=settings.index, ignore_unavailable=True)
        es.close()


def test_update_alerts_only_for_the_rule_it_newly_matches(world):
    settings, worker, smtp, _, _sink = world
    wait_for(lambda: mail(smtp, "oil@example.com", "Oil output steady"), 60, what="the live oil story")
    # v1 matched oil; v2 matched oil again (no second alert) and gas (newly: one alert).
    assert [s for s in subjects(smtp, "oil@example.com") if "WITHDRAWN" not in s] == [
        "[WireWatch] oil: Oil output steady", "[WireWatch] oil: Oil prices climb"]
    assert [s for s in subjects(smtp, "gas@example.com") if "WITHDRAWN" not in s] == ["[WireWatch] gas: Oil and gas prices climb"]
    assert [s for s in subjects(smtp, "both@example.com") if "WITHDRAWN" not in s] == [
        "[WireWatch] gas: Oil and gas prices climb", "[WireWatch] oil: Oil output steady", "[WireWatch] oil: Oil prices climb"]


def test_kill_sends_one_withdrawn_notice_to_each_person_alerted_and_none_to_others(world):
    settings, worker, smtp, slack, _sink = world
    for person in ("oil", "gas", "both"):
        wait_for(lambda: mail(smtp, f"{person}@example.com", "WITHDRAWN"), 60, what=f"{person}'s notice")
    wait_for(lambda: len(slack.posted("/services/T/B/oil")) >= 3, 60, what="the Slack notice")
    settle(2)  # a second notice would come with the first
    # A headline people were alerted with (the first on the rule's
    # partition: both rules may live on one), not the kill's own.
    headlines = ("Oil prices climb", "Oil and gas prices climb")
    assert [m["Subject"].strip() for m in mail(smtp, "oil@example.com", "WITHDRAWN")] == [
        "[WireWatch] WITHDRAWN: Oil prices climb (oil)"]
    [gas] = mail(smtp, "gas@example.com", "WITHDRAWN")
    assert gas["Subject"].strip() in [f"[WireWatch] WITHDRAWN: {h} (gas)" for h in headlines]
    assert "withdrawn in version 3" in gas.get_body(("plain",)).get_content()
    # Alerted by two rules (on one partition or two): one notice.
    assert len(mail(smtp, "both@example.com", "WITHDRAWN")) == 1
    notices = [p for p in slack.posted("/services/T/B/oil") if "WITHDRAWN" in json.dumps(p.body)]
    assert len(notices) == 1 and "Oil prices climb" in json.dumps(notices[0].body)
    # Nobody else: not the rule the story never matched, nor those it still waited for.
    assert subjects(smtp, "cocoa@example.com") == ["[WireWatch] cocoa: Cocoa harvest"]
    for person in ("zinc", "copper", "nickel"):
        assert not mail(smtp, f"{person}@example.com", "WITHDRAWN"), person


def test_kill_takes_the_story_out_of_a_flood_summary_and_a_digest_not_yet_sent(world):
    settings, worker, smtp, _, _sink = world
    [summary] = wait_for(lambda: mail(smtp, "zinc@example.com", "held back"), 90, what="the zinc flood summary")
    assert summary["Subject"].strip() == "[WireWatch] zinc: 1 more match held back"
    text = summary.get_body(("plain",)).get_content()
    assert "Zinc three" in text and "Zinc two" not in text
    [digest] = wait_for(lambda: mail(smtp, "copper@example.com", "digest"), 90, what="the copper digest")
    assert digest["Subject"].strip() == "[WireWatch] copper: digest of 1 story"
    text = digest.get_body(("plain",)).get_content()
    assert "Copper* two" in text and "one" not in text
    assert subjects(smtp, "zinc@example.com") == ["[WireWatch] zinc: 1 more match held back", "[WireWatch] zinc: Zinc one"]


def test_killed_story_is_hidden_from_search_by_default(world):
    settings, *_ = world
    # The kill's document replaced the live one (the live oil story is indexed after it).
    wait_for(lambda: "oil-live" in search(settings, "oil"), 90, what="the live oil story in search")
    found = search(settings, "oil")
    assert "upd" not in found and "oil-live" in found
    everything = search(settings, "oil", "--include-withdrawn")
    assert everything["upd"]["withdrawn"] is True and everything["upd"]["version"] == 3
    assert everything["oil-live"]["withdrawn"] is False
    assert "c1" not in search(settings, "copper") and "c2" in search(settings, "copper")


def test_embargoed_story_is_searchable_at_once_and_alerts_after_the_embargo(world):
    settings, worker, smtp, _, sink = world
    # Sent here, so that the other tests' waits do not eat the embargo.
    embargo = datetime.now(timezone.utc) + EMBARGO_AHEAD
    sink.send(story("emb", "Nickel merger announced", embargo=embargo))
    sink.flush()
    found = wait_for(lambda: search(settings, "nickel").get("emb"), 60, what="the embargoed story in search")
    assert datetime.fromisoformat(found["embargo"]) == embargo
    if datetime.now(timezone.utc) >= embargo:
        pytest.fail("the embargo lifted before the story could be checked: the test machine is too slow for it")
    assert not subjects(smtp, "nickel@example.com")  # indexed, not alerted
    wait_for(lambda: subjects(smtp, "nickel@example.com"), EMBARGO_AHEAD.total_seconds() + 60, what="the alert after the embargo")
    assert datetime.now(timezone.utc) >= embargo
    assert subjects(smtp, "nickel@example.com") == ["[WireWatch] nickel: Nickel merger announced"]
    assert "story=emb v1: embargo lifted" in worker.output()
