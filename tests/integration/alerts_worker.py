"""Run the alert stage as a real Faust worker (a subprocess) against real Kafka."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from support import names
from support.poll import wait_for

from wirewatch import topics
from wirewatch.model import Match
from wirewatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
class AlertsWorker:
    def __init__(self, tmp: Path, rules: list[dict], bootstrap: str, name: str | None = None, **settings) -> None:
        name = name or names.fresh("t", 10)
        self.bootstrap = bootstrap
        self.tmp = tmp
        self.rules_file = tmp / "rules.yaml"
        # The stage decides on matches these tests send it; the query only has to be valid.
        rules = [{"query": "wirewatch", **rule} for rule in rules]
        self.rules_file.write_text(yaml.safe_dump({"rules": rules}))
        self.env = {
            **os.environ,
            "WIREWATCH_KAFKA_BOOTSTRAP": bootstrap,
            "WIREWATCH_TOPIC_PREFIX": name,
            "WIREWATCH_APP_ID": name,
            "WIREWATCH_RULES_FILE": str(self.rules_file),
            "WIREWATCH_WEB_PORT": "0",
            "WIREWATCH_HOME": str(tmp / "home"),
            "WIREWATCH_PARTITIONS": "2",
            "WIREWATCH_ALERTS_TICK_SECONDS": "0.5",
            # A killed worker's restart gets its partitions after 10 s, not the default 60.
            "WIREWATCH_KAFKA_SESSION_TIMEOUT_SECONDS": "10",
            "WIREWATCH_ALERTS_RETRY_INITIAL_SECONDS": "0.2",
            "WIREWATCH_ALERTS_RETRY_MAX_SECONDS": "1",
            "PYTHONUNBUFFERED": "1",
            **{f"WIREWATCH_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.settings = Settings(
            kafka_bootstrap=bootstrap, topic_prefix=name, app_id=name, partitions=2,
        )
        topics.ensure(self.settings)
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        self._producer = None

    @property
    def log_path(self) -> Path:
        return self.tmp / f"worker-{self.runs}.log"

    def launch(self) -> subprocess.Popen:
        self.runs += 1
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "alerts.worker"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self.proc

    def start(self, timeout: float = 90) -> "AlertsWorker":
        self.launch()
        wait_for(lambda: "[^Worker]: Ready" in self.log() or self.proc.poll() is not None, timeout, 0.25, "the worker to be ready")
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited:\n{self.log()[-4000:]}")
        return self

    def log(self, run: int | None = None) -> str:
        path = self.tmp / f"worker-{run or self.runs}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "".join(self.log(r) for r in range(1, self.runs + 1))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    # -- Kafka I/O

    def producer(self):
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        return self._producer

    def send_matches(self, matches: list[Match]) -> None:
        p = self.producer()
        for m in matches:
            p.send(self.settings.matches_topic, key=m.rule_id.encode(), value=m.to_json())
        p.flush()

    def send_raw(self, key: bytes, value: bytes) -> None:
        self.producer().send(self.settings.matches_topic, key=key, value=value).get(30)

    def read(self, topic: str, timeout: float = 5.0) -> list[dict]:
        """Every message now on `topic`, as JSON."""
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, group_id=None, consumer_timeout_ms=int(timeout * 1000))
        try:
            return [json.loads(m.value) for m in consumer]
        finally:
            consumer.close()

    def close(self) -> None:
        self.stop()
        if self._producer is not None:
            self._producer.close()


def alert_ids(messages) -> list[str]:
    return [m["X-WireWatch-Alert"] for m in messages]


def settle(seconds: float) -> None:
    """Give the worker time to do something it must NOT do (a negative check)."""
    time.sleep(seconds)
