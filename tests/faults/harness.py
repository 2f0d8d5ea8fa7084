"""One replay of real wire stories through real workers, a fault in the middle, and what came out.

A `Run` owns its topics, index, consumer group, rules, mail server and Slack
stand-in.  The Kafka and Elasticsearch it talks to belong to a `Stack`:
servers the stack started itself (which a scenario may kill or stop), or
shared ones it only uses.  Everything is counted from what the servers
hold at the end, never from the workers' own word:

- stories: documents in the index, write operations the index took (shard
  sequence numbers: a second write of a story takes one, a refused one
  does not), dead letters;
- alerts: records on the alerts topic (decided), messages the SMTP server
  accepted and posts the Slack stand-in received (delivered), dead letters.

What should have come out is worked out offline with the same matcher.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kafka import KafkaConsumer, TopicPartition
from support.kafka import topic_records
from support.poll import wait_for
from support.processes import Worker, env_for
from support.servers import FakeSlack, SmtpServer, free_pair, start_fake_slack

from producers.sources import read_stories
from wirewatch.model import Story
from wirewatch.query import Matcher
from wirewatch.services import control, procs
from wirewatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STORY_LINK = "http://search.invalid/story/{story_id}"
_LINK_HEAD = STORY_LINK.split("{")[0]

# Rules that match a good share of 1987 Reuters stories (about one story in
# nine), each with an email and a Slack subscriber.  `realert: false`: flood
# control would fold alerts into summaries, and this suite counts alerts one
# by one.
RULES = {
    "oil": '"crude oil" OR opec',
    "trade": "trade NEAR/3 (deficit OR surplus)",
    "gold": "title:gold",
    "coffee": "coffee OR cocoa",
    "rates": '"interest rates"',
    "japan": "title:japan",
}
EMAIL = "desk@example.com"


class Stack:
    """Kafka and Elasticsearch for the runs.  Only services in `owned` may be crashed."""

    def __init__(self, home: Path, kafka: str | None = None, es: str | None = None) -> None:
        # Services named by the caller are used as they are; the others are started here, on
        # ports of their own, so killing them never touches anyone else's.
        self.owned = tuple(name for name, given in (("kafka", kafka), ("elasticsearch", es)) if not given)
        self.settings = Settings(
            home=home,
            kafka_bootstrap=kafka or f"127.0.0.1:{free_pair(1)}",
            es_url=es or f"http://127.0.0.1:{free_pair(100)}",
        )

    def __enter__(self) -> "Stack":
        if self.owned:
            control.up(self.settings, self.owned)
        return self

    def __exit__(self, *exc) -> None:
        if self.owned:
            control.down(self.settings, self.owned, purge=True)

    def _pid(self, name: str) -> int:
        assert name in self.owned, f"{name} is not this stack's to crash"
        [service] = control.make(self.settings, (name,))
        state = procs.read_state(service.state_path)
        assert procs.is_running(state), f"{name} is not running"
        return state.pid

    def crash(self, name: str) -> None:
        """SIGKILL the whole process group: no shutdown, no flush, as in a power cut."""
        pid = self._pid(name)
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while procs.group_exists(pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self, name: str) -> None:
        self._pid(name)
        control.down(self.settings, (name,))

    def start(self, name: str) -> None:
        control.up(self.settings, (name,))


@dataclass
class Figures:
    """What one scenario counted.  `lost` and `twice` are the figures that must be 0."""

    scenario: str
    stories: int = 0  # good stories produced
    malformed: int = 0  # bad messages sent on purpose
    indexed: int = 0
    written_twice: int = 0
    stories_parked: int = 0
    stories_lost: int = 0
    alerts_expected: int = 0
    alerts_decided: int = 0
    delivered: int = 0
    # A second alert for a rule and story already alerted about: a doubling.
    delivered_twice: int = 0
    # The same alert again (same alert id: the email's Message-ID, which mail
    # readers fold, or the Slack message's metadata): a worker killed after
    # the server took it and before its record reached Kafka sends it again
    # on restart.  The one window the README names; counted here, not under
    # delivered_twice.
    resent: int = 0
    alerts_parked: int = 0
    alerts_lost: int = 0
    recovery_s: float | None = None
    complete: bool = False
    parked_by_stage: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.complete and not (self.stories_lost or self.written_twice or self.alerts_lost or self.delivered_twice)


def _slack_alert_id(body: dict) -> str:
    return body["metadata"]["event_payload"]["alert_id"]


class Run:
    """One scenario's pipeline: producer, workers, servers, and the counting."""

    def __init__(self, stack: Stack, scenario: str, workdir: Path, corpus: Path, stories: int = 3000,
                 rate: float = 150.0, **overrides) -> None:
        self.scenario = scenario
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        name = f"faults-{scenario}-{uuid.uuid4().hex[:8]}"
        self.smtp = SmtpServer().start()
        self.slack: FakeSlack = start_fake_slack()
        self.settings = Settings(
            kafka_bootstrap=stack.settings.kafka_bootstrap,
            es_url=stack.settings.es_url,
            topic_prefix=name,
            index=name,
            app_id=name,
            home=workdir / "home",
            smtp_port=self.smtp.port,
            kibana_url_template=STORY_LINK,
            alerts_tick_seconds=0.5,
            alerts_retry_initial_seconds=0.5,
            alerts_retry_max_seconds=5.0,
            **overrides,
        )
        self.stack = stack
        self.files = [corpus / "reuters21578" / f"reut2-{i:03d}.sgm" for i in range(2, 8)]
        self.stories: list[Story] = list(_first(read_stories(self.files), stories))
        self.rate = rate
        self.rules_file = workdir / "rules.yaml"
        self.rules_file.write_text(yaml.safe_dump({"rules": [
            {"id": rule, "query": query, "realert": False,
             "subscribers": [{"email": EMAIL}, {"slack_webhook": f"{self.slack.url}/services/T/B/{rule}"}]}
            for rule, query in RULES.items()
        ]}))
        matcher = Matcher.from_rules(RULES)
        pairs = {(rule, s.id) for s in self.stories for rule in matcher.match(s.title, s.body)}
        self.expected_alerts = {(channel, rule, story) for rule, story in pairs for channel in ("email", "slack")}
        self.expected_parked: Counter[str] = Counter()
        self.malformed = 0
        self.refused: set[str] = set()  # story ids Elasticsearch is expected to refuse for good
        self.workers: list[Worker] = []
        self.producer: subprocess.Popen | None = None
        self.started = time.monotonic()
        self.produced_at: float | None = None
        self.cleared_at: float | None = None
        self.notes: list[str] = []
        self._es = None

    # -- parts

    @property
    def es(self):
        if self._es is None:
            from streams import elastic

            self._es = elastic.sync_client(self.settings)
        return self._es

    def worker(self) -> Worker:
        w = Worker(self.settings, self.workdir / f"worker-{len(self.workers) + 1}.log", "--rules", str(self.rules_file))
        self.workers.append(w)
        return w

    def wait_ready(self, worker: Worker, timeout: float = 180) -> None:
        self.wait(lambda: "[^Worker]: Ready" in worker.output() or worker.proc.poll() is not None, timeout, "a worker ready")
        assert worker.proc.poll() is None, f"worker exited:\n{worker.output()[-3000:]}"

    def produce(self) -> None:
        """`wirewatch produce` at a steady rate, in the background, as a person would run it."""
        log = open(self.workdir / "produce.log", "wb")
        self.producer = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", "produce", "--no-progress", "--rate", str(self.rate),
             "--limit", str(len(self.stories)), *map(str, self.files)],
            env=env_for(self.settings), stdout=log, stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._await_producer, daemon=True).start()

    def _await_producer(self) -> None:
        self.producer.wait()
        self.produced_at = time.monotonic()

    def produce_output(self) -> str:
        return (self.workdir / "produce.log").read_text(errors="replace")

    def send_raw(self, messages: list[tuple[bytes | None, bytes]], parked_at: str | None = "match") -> None:
        from producers.kafka_sink import StorySink

        with StorySink(self.settings) as sink:
            for key, value in messages:
                sink.send_raw(key, value, wait=False)
            sink.flush()
        if parked_at:
            self.expected_parked[parked_at] += len(messages)

    # -- timeline

    def wait(self, check: Callable[[], object], timeout: float, what: str, interval: float = 0.5):
        return wait_for(check, timeout, interval, f"{self.scenario}: {what}")

    def when_indexed(self, share: float, timeout: float = 300) -> None:
        target = int(len(self.stories) * share)
        self.wait(lambda: self.indexed_count() >= target, timeout, f"{target} stories indexed")

    def when_delivered(self, n: int, timeout: float = 300) -> None:
        self.wait(lambda: len(self.smtp.messages) + len(self.slack.posted()) >= n, timeout, f"{n} alerts delivered")

    def cleared(self) -> None:
        """The fault is over: recovery is timed from here (or from the end of producing, if later)."""
        self.cleared_at = time.monotonic()

    # -- counting

    def indexed_count(self) -> int:
        try:
            self.es.indices.refresh(index=self.settings.index)
            return self.es.count(index=self.settings.index)["count"]
        except Exception:  # noqa: BLE001 - the index may not exist yet, or Elasticsearch is down on purpose
            return 0

    def indexed_ids(self) -> set[str]:
        from elasticsearch.helpers import scan

        return {h["_id"] for h in scan(self.es, index=self.settings.index, query={"query": {"match_all": {}}}, _source=False)}

    def write_operations(self) -> int:
        shards = self.es.indices.stats(index=self.settings.index, level="shards")["indices"][self.settings.index]["shards"]
        return sum(c["seq_no"]["max_seq_no"] + 1 for copies in shards.values() for c in copies if c["routing"]["primary"])

    def deliveries(self) -> Counter[tuple[str, str, str]]:
        """(channel, rule, story) of every message the servers received, with how often."""
        got: Counter[tuple[str, str, str]] = Counter()
        alerts: set[str] = set()
        for m in self.smtp.messages:
            if m["X-WireWatch-Alert"] in alerts:
                continue  # the same email again: counted by `resent`
            alerts.add(m["X-WireWatch-Alert"])
            for story in (m["X-WireWatch-Stories"] or "").split(","):
                got["email", m["X-WireWatch-Rule"], story] += 1
        posted: set[str] = set()
        for post in self.slack.posted():
            if post.status != 200:
                continue  # refused on purpose: not delivered
            alert_id = _slack_alert_id(post.body)
            if alert_id in posted:
                continue  # the same Slack message again: counted by `resent`
            posted.add(alert_id)
            rule = post.path.rsplit("/", 1)[-1]
            for block in post.body.get("blocks", [])[1:]:
                text = block.get("text", {}).get("text", "")
                if _LINK_HEAD in text:
                    link = text.split(_LINK_HEAD, 1)[1].split("|", 1)[0]
                    got["slack", rule, urllib.parse.unquote(link)] += 1
        return got

    def resent(self) -> int:
        """Emails and Slack messages received again with an alert id already received."""
        ids = Counter(m["X-WireWatch-Alert"] for m in self.smtp.messages)
        ids.update(_slack_alert_id(p.body) for p in self.slack.posted() if p.status == 200)
        return sum(n - 1 for n in ids.values() if n > 1)

    def dead_letters(self) -> list[dict]:
        return [json.loads(r.value) for r in topic_records(self.settings, self.settings.deadletter_topic)]

    def complete(self) -> bool:
        expected_docs = len(self.stories) - len(self.refused)
        if self.indexed_count() < expected_docs:
            return False
        if not self.expected_alerts <= set(self.deliveries()):
            return False
        return sum(self.expected_parked.values()) <= len(self.dead_letters())

    def lag(self) -> dict[str, int]:
        """Messages of the group's input topics not yet committed, per partition that has some."""
        topics = [self.settings.stories_topic, self.settings.matches_topic, self.settings.alerts_topic]
        # A consumer of the group's id that never subscribes only reads its committed offsets.
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=self.settings.app_id,
                                 enable_auto_commit=False)
        try:
            tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
            ends = consumer.end_offsets(tps)
            lags = {f"{tp.topic}[{tp.partition}]": end - (consumer.committed(tp) or 0) for tp, end in ends.items()}
            return {where: n for where, n in lags.items() if n}
        finally:
            consumer.close()

    def finish(self, timeout: float = 400) -> Figures:
        """Wait for everything to come out, then count."""
        figures = Figures(self.scenario, stories=len(self.stories), malformed=self.malformed)
        try:
            self.wait(self.complete, timeout, "every story indexed and every alert delivered", interval=1.0)
            done = time.monotonic()
            figures.complete = True
            if self.producer is not None:
                self.producer.wait(120)
            since = max(t for t in (self.cleared_at, self.produced_at, self.started) if t is not None)
            figures.recovery_s = max(0.0, done - since)
            # Committed everywhere: anything a redelivery could still double would have come by now.
            self.wait(lambda: not self.lag(), 120, "the consumer group to commit everything", interval=1.0)
        except AssertionError as exc:  # wait_for's timeout: counted below, not raised
            figures.notes.append(f"{exc} (uncommitted: {self.lag()})")
        self._count(figures)
        return figures

    def _count(self, f: Figures) -> None:
        ids = self.indexed_ids()
        f.indexed = len(ids)
        f.written_twice = self.write_operations() - len(ids)
        letters = self.dead_letters()
        by_stage = Counter(d["stage"] for d in letters)
        f.parked_by_stage = dict(by_stage)
        parked_stories = {d.get("key") for d in letters if d["stage"] in ("match", "index")}
        f.stories_parked = sum(n for stage, n in by_stage.items() if stage in ("match", "index"))
        f.stories_lost = len({s.id for s in self.stories} - ids - parked_stories)
        decided = [json.loads(r.value) for r in topic_records(self.settings, self.settings.alerts_topic)]
        f.alerts_decided = len({a["alert_id"] for a in decided})
        f.alerts_expected = len(self.expected_alerts)
        got = self.deliveries()
        f.delivered = len(set(got) & self.expected_alerts)
        f.delivered_twice = sum(n - 1 for n in got.values() if n > 1)
        doubled = sorted(k for k, n in got.items() if n > 1)
        if doubled:
            f.notes.append(f"delivered twice (channel, rule, story): {doubled[:5]}")
        f.resent = self.resent()
        f.alerts_parked = sum(n for stage, n in by_stage.items() if stage not in ("match", "index"))
        f.alerts_lost = len(self.expected_alerts - set(got))
        unexpected = set(got) - self.expected_alerts
        if unexpected:
            f.notes.append(f"{len(unexpected)} deliveries no rule called for, e.g. {sorted(unexpected)[:2]}")
        if by_stage != self.expected_parked:
            f.notes.append(f"parked {dict(by_stage)}, expected {dict(self.expected_parked)}")

    def close(self) -> list[str]:
        """Stop everything (workers with Ctrl-C, as a person would); what went wrong doing it."""
        codes = []
        for w in self.workers:
            if w.proc.poll() is None:
                codes.append(w.stop())
        if any(codes):
            self.notes.append(f"a worker did not stop cleanly (exit status {codes})")
        if self.producer is not None and self.producer.poll() is None:
            self.producer.kill()
        self.smtp.stop()
        self.slack.server.shutdown()
        if self._es is not None:
            self._es.indices.delete(index=self.settings.index, ignore_unavailable=True)
            self._es.close()
        return self.notes


def _first(stories, n: int):
    for i, story in enumerate(stories):
        if i >= n:
            return
        yield story
