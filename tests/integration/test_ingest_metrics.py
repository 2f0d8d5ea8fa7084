"""`wirewatch ingest` watched as Prometheus and an orchestrator would: its /metrics
against what a drop folder delivered to the real Kafka, and its health endpoints."""

from __future__ import annotations

import json
import os
import re

import pytest
from support.ingest import Ingest, sent_stories
from support.poll import wait_for
from support.scrape import get, metric, ready, scrape
from support.servers import free_port

pytestmark = pytest.mark.integration


def test_ingest_serves_its_sources_counters_and_health(kafka_settings, tmp_path, corpus_dir):
    inbox = tmp_path / "inbox"
    sources = tmp_path / "sources.yaml"
    sources.write_text("status_every: 1s\nsources:\n  - {name: agency, kind: folder, path: inbox, quiet: 0.5s, scan: 0.2s}\n")
    port = free_port()
    ingest = Ingest(kafka_settings, sources, tmp_path / "ingest.log", WIREWATCH_INGEST_METRICS_PORT=str(port))
    try:
        wait_for(lambda: ready(port)[0] == 200, timeout=30, what="ingest ready (Kafka connected)")
        assert json.loads(get(f"http://127.0.0.1:{port}/healthz")[1]) == {"alive": True}
        assert ready(port)[1]["checks"]["kafka"]["ok"] is True

        sgml = (corpus_dir / "reuters21578" / "reut2-000.sgm").read_text(encoding="latin-1")
        five = "".join(re.findall(r"<REUTERS\b.*?</REUTERS>", sgml, re.S)[:5])
        (inbox / "five.sgm.part").write_text(five, encoding="latin-1")
        os.replace(inbox / "five.sgm.part", inbox / "five.sgm")
        wait_for(lambda: (inbox / "done" / "five.sgm").exists(), timeout=30, what="the file done")

        samples = scrape(port)
        labels = {"source": "agency", "kind": "folder"}
        assert metric(samples, "wirewatch_ingest_fetched_total", **labels) == 1
        assert metric(samples, "wirewatch_ingest_items_total", **labels) == 5
        assert metric(samples, "wirewatch_ingest_stories_total", outcome="new", **labels) == 5
        assert metric(samples, "wirewatch_ingest_stories_total", outcome="updated", **labels) == 0
        assert metric(samples, "wirewatch_ingest_failures_total", **labels) == 0
        assert metric(samples, "wirewatch_ingest_last_success_timestamp_seconds", **labels) > 0
        assert metric(samples, "wirewatch_ingest_kafka_up") == 1
        assert len(sent_stories(kafka_settings, kafka_settings.stories_topic)) == 5
        status = json.loads(get(f"http://127.0.0.1:{port}/status")[1])
        assert status["sources"]["agency"]["new"] == 5
    finally:
        assert ingest.stop() == 0
