"""A real `wirewatch worker` on the real servers, watched the way Prometheus, an
orchestrator and a person would: its /metrics against what was produced,
indexed and emailed; lag while it is stopped and after it catches up (from
Kafka with `wirewatch status` and from the worker itself); /readyz before and
after the worker has partitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from producers.kafka_sink import StorySink
from producers.sources import read_stories
from streams import elastic
from support.poll import wait_for
from support.scrape import get, metric, ready, scrape
from support.processes import Worker, run
from support.servers import SmtpServer, free_port
from wirewatch.query import Matcher
from wirewatch.rules import load_rules

pytestmark = pytest.mark.integration

RULES = {"rules": [
    {"id": "oil", "query": '"crude oil" OR opec', "realert": False, "subscribers": [{"email": "oil-desk@example.com"}]},
    {"id": "grain", "query": "wheat OR corn OR grain"},
]}


def indexed_count(es, index: str) -> int:
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    return es.count(index=index)["count"]


@pytest.fixture
def world(settings, tmp_path):
    smtp = SmtpServer().start()
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(RULES))
    port = free_port()
    s = settings.model_copy(update={"metrics_port": port, "metrics_host": "127.0.0.1", "partitions": 2,
                                    "smtp_port": smtp.port, "alerts_tick_seconds": 0.5})
    es = elastic.sync_client(s)
    yield s, rules_file, smtp, es
    es.indices.delete(index=s.index, ignore_unavailable=True)
    es.close()
    smtp.stop()


def expected_counts(rules_file: Path, stories) -> dict[str, int]:
    matcher = Matcher.from_rules(load_rules(rules_file)[0])
    matched = [matcher.match(s.title, s.body) for s in stories]
    return {"matched": sum(1 for m in matched if m), "matches": sum(len(m) for m in matched),
            "oil": sum(1 for m in matched if "oil" in m), "grain": sum(1 for m in matched if "grain" in m)}


def test_counters_lag_and_delays_of_a_real_worker_during_a_replay(world, corpus_dir, tmp_path):
    s, rules_file, smtp, es = world
    first, second = corpus_dir / "reuters21578" / "reut2-007.sgm", corpus_dir / "reuters21578" / "reut2-008.sgm"
    stories = list(read_stories([first]))
    later = list(read_stories([second]))
    want = expected_counts(rules_file, stories)
    assert want["oil"] > 5 and want["grain"] > 5, want
    port = s.metrics_port

    worker = Worker(s, tmp_path / "worker.log", "--rules", str(rules_file))
    try:
        wait_for(lambda: ready(port)[0] == 200, timeout=120, what="the worker ready")
        produced = run(s, "produce", "--no-progress", str(first))
        assert produced.returncode == 0, produced.stderr
        with StorySink(s) as sink:
            sink.send_raw(b"broken-1", b'{"id": "broken-1", "title": "no source and not JSON')

        wait_for(lambda: indexed_count(es, s.index) >= len(stories), timeout=240, what="every story indexed")
        wait_for(lambda: len(smtp.messages) >= want["oil"], timeout=120, what="an email per oil story")

        def settled():
            m = scrape(port)
            return m if (metric(m, "wirewatch_alerts_sent_total", channel="email") >= want["oil"]
                         and metric(m, "wirewatch_dead_letters_total", stage="match") >= 1) else None

        m = wait_for(settled, timeout=60, what="the counters to catch up with the index and the mail server")
        assert metric(m, "wirewatch_stories_consumed_total") == len(stories) + 1  # the broken one too
        assert metric(m, "wirewatch_stories_matched_total") == want["matched"]
        assert metric(m, "wirewatch_matches_total") == want["matches"]
        assert metric(m, "wirewatch_stories_indexed_total") == len(stories) == indexed_count(es, s.index)
        assert metric(m, "wirewatch_rule_matches_top", rule="oil") == want["oil"]
        assert metric(m, "wirewatch_rule_matches_top", rule="grain") == want["grain"]
        # Only the rule with a subscriber alerts; one email per story, each received by the mail server.
        assert metric(m, "wirewatch_alerts_decided_total", channel="email") == want["oil"]
        assert metric(m, "wirewatch_alerts_sent_total", channel="email") == want["oil"] == len(smtp.messages)
        assert metric(m, "wirewatch_alerts_parked_total", channel="email") == 0
        assert metric(m, "wirewatch_dead_letters_total", stage="match") == 1
        assert metric(m, "wirewatch_story_indexed_delay_seconds_count") == len(stories)
        assert metric(m, "wirewatch_story_alerted_delay_seconds_count", channel="email") == want["oil"]
        assert metric(m, "wirewatch_es_bulk_seconds_count") >= 1
        assert metric(m, "wirewatch_es_bulk_rejected_total", kind="rejected") == 0
        assert metric(m, "wirewatch_rules_live") == 2
        assert metric(m, "wirewatch_rules_version") == 2
        assert metric(m, "wirewatch_stage_busy_seconds_total", stage="match") > 0
        assert metric(m, "wirewatch_ready") == 1

        def caught_up():
            m = scrape(port)
            lags = [v for (name, labels), v in m.items() if name == "wirewatch_consumer_lag_messages"
                    and dict(labels)["topic"] == s.stories_topic]
            return len(lags) == 2 and all(v == 0 for v in lags)

        wait_for(caught_up, timeout=60, what="the worker's own lag on the stories topic at 0")
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]

    # Stopped: Kafka's committed offsets fall behind by what is produced.
    before = status_json(s, port)
    assert before["kafka"]["ok"] and not before["workers"][0]["ok"]
    assert "unreachable" in before["workers"][0]["error"]
    produced = run(s, "produce", "--no-progress", str(second))
    assert produced.returncode == 0, produced.stderr
    status = status_json(s, port)
    assert stories_lag(status, s) == stories_lag(before, s) + len(later)
    assert status["total_lag"] >= len(later)

    restarted = Worker(s, tmp_path / "restarted.log")
    try:
        wait_for(lambda: indexed_count(es, s.index) >= len(stories) + len(later), timeout=240, what="the backlog indexed")
        # Kafka's committed offsets may stay behind what Faust skipped at the start and the stage
        # read back itself (wirewatch.pipeline.progress): the worker's own lag is what says "done".
        status = wait_for(lambda: (lambda st: st if st["total_lag"] == 0 else None)(status_json(s, port)),
                          timeout=60, what="no lag left")
        (w,) = status["workers"]
        assert w["ok"] and w["ready"] and w["partitions"] == 10
        assert {p["worker"] for p in status["partitions"] if p["topic"] == s.stories_topic} == {f"http://127.0.0.1:{port}"}
        m = scrape(port)
        # Counts since this start: the new stories, and any the last commit had not covered again.
        assert metric(m, "wirewatch_stories_consumed_total") >= len(later)
        assert metric(m, "wirewatch_stories_indexed_total") >= len(later)
        for partition in (0, 1):
            assert metric(m, "wirewatch_consumer_lag_messages", topic=s.stories_topic, partition=partition) == 0
    finally:
        assert restarted.stop() == 0, restarted.output()[-3000:]


def status_json(s, port: int) -> dict:
    result = run(s, "status", "--json", "--interval", "0.5", "--url", f"http://127.0.0.1:{port}")
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def stories_lag(status: dict, s) -> int:
    """The committed lag (from Kafka) of the stories topic."""
    return sum(p["lag"] for p in status["partitions"] if p["topic"] == s.stories_topic)


def test_readyz_is_not_ready_without_partitions_and_ready_once_assigned(world, tmp_path):
    s, rules_file, _, _ = world
    one = s.model_copy(update={"partitions": 1})  # room for one worker: the second waits
    second_port = free_port()
    first = Worker(one, tmp_path / "first.log", "--rules", str(rules_file))
    second = None
    try:
        wait_for(lambda: ready(one.metrics_port)[0] == 200, timeout=120, what="the first worker ready")
        second = Worker(one.model_copy(update={"metrics_port": second_port}), tmp_path / "second.log")

        def waiting_in_the_group():
            status, body = ready(second_port)
            checks = body.get("checks", {})
            settled = all(checks.get(c, {}).get("ok") for c in ("kafka", "elasticsearch", "rules"))
            return (status, checks) if settled and "rebalancing" not in checks["partitions"]["detail"] else None

        status, checks = wait_for(waiting_in_the_group, timeout=120, what="the second worker connected, with its rules")
        assert status == 503
        assert checks["partitions"] == {"ok": False, "detail": "no partitions assigned"}
        assert get(f"http://127.0.0.1:{second_port}/healthz") == (200, '{"alive": true}')
        assert metric(scrape(second_port), "wirewatch_ready") == 0

        assert first.stop() == 0, first.output()[-3000:]
        status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(ready(second_port)), timeout=120,
                                what="the second worker ready once it has the partitions")
        assert body["ready"] is True and body["checks"]["partitions"]["ok"]
    finally:
        first.stop()
        if second is not None:
            assert second.stop() == 0, second.output()[-3000:]
