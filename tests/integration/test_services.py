"""`wirewatch services` starts a real Kafka and Elasticsearch, again harmlessly, and stops them.

It runs on ports of its own (free ones found at run time) and a folder of its
own, so it never touches the services the rest of the suite uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.servers import free_pair

from wirewatch.services import control
from wirewatch.services.endpoints import port_taken
from wirewatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Under /tmp so the Elasticsearch user can reach it; emptied at the end.
HOME = Path(tempfile.gettempdir()) / f"wirewatch-services-test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]}"


@pytest.fixture(scope="module")
def local_settings() -> Iterator[Settings]:
    settings = Settings(
        home=HOME,
        kafka_bootstrap=f"127.0.0.1:{free_pair(1)}",
        es_url=f"http://127.0.0.1:{free_pair(100)}",
    )
    yield settings
    control.down(settings, purge=True)  # also when a test failed half-way
    shutil.rmtree(HOME, ignore_errors=True)


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        WIREWATCH_HOME=str(settings.home),
        WIREWATCH_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        WIREWATCH_ES_URL=settings.es_url,
        COLUMNS="200",
    )
    return subprocess.run(
        [sys.executable, "-c", "from wirewatch.cli import main; main()", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_up_twice_then_down(local_settings: Settings):
    started = time.monotonic()
    reports = control.up(local_settings, timeout=300)
    print(f"up took {time.monotonic() - started:.1f} s")
    assert [(r.name, r.state, r.started_now) for r in reports] == [
        ("kafka", "running", True),
        ("elasticsearch", "running", True),
    ]
    pids = {r.name: r.pid for r in reports}

    # Kafka answers a real client, and topics get num.partitions by default.
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    topic = f"test-services-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=local_settings.kafka_bootstrap, request_timeout_ms=30000)
    try:
        assert topic not in admin.list_topics()
        admin.create_topics([NewTopic(topic, num_partitions=-1, replication_factor=-1)])
        assert topic in admin.list_topics()
        assert len(admin.describe_topics([topic])[0]["partitions"]) == 4
        admin.delete_topics([topic])
    finally:
        admin.close()

    # Elasticsearch reports a usable cluster and indexes and finds a document.
    base = local_settings.es_url
    with urllib.request.urlopen(f"{base}/_cluster/health?wait_for_status=yellow&timeout=30s", timeout=40) as response:
        health = json.loads(response.read())
    assert health["status"] in ("yellow", "green")
    assert health["number_of_nodes"] == 1
    from elasticsearch import Elasticsearch

    index = f"test-services-{uuid.uuid4().hex[:8]}"
    with Elasticsearch(base) as es:
        es.index(index=index, id="1", document={"title": "Xi meets Putin in Moscow"}, refresh=True)
        assert es.search(index=index, query={"match": {"title": "putin"}})["hits"]["total"]["value"] == 1
        es.indices.delete(index=index)

    # A second `up` (through the real command) changes nothing.
    again = cli(local_settings, "services", "up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    assert {r.name: r.pid for r in control.status(local_settings)} == pids

    shown = cli(local_settings, "services", "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    for pid in pids.values():
        assert str(pid) in shown.stdout

    control.down(local_settings)
    after = control.status(local_settings)
    assert [(r.name, r.state) for r in after] == [("kafka", "stopped"), ("elasticsearch", "stopped")]
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    kafka_port = int(local_settings.kafka_bootstrap.rsplit(":", 1)[1])
    es_port = int(local_settings.es_url.rsplit(":", 1)[1])
    for port in (kafka_port, kafka_port + 1, es_port, es_port + 100):
        assert not port_taken("127.0.0.1", port), port

    stopped = cli(local_settings, "services", "status")
    assert stopped.returncode == 3


def test_status_reports_a_port_taken_by_another_program(local_settings: Settings):
    kafka_port = int(local_settings.kafka_bootstrap.rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", kafka_port))
        squatter.listen()
        [report] = control.status(local_settings, ("kafka",))
        assert report.state == "taken"
        refused = cli(local_settings, "services", "up", "--kafka-only")
    assert refused.returncode == 1
    assert f"port {kafka_port} (broker" in refused.stderr
    assert "already in use by another program" in refused.stderr
