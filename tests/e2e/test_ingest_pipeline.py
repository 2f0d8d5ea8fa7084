"""Live sources through the whole pipeline: `wirewatch ingest` -> Kafka -> a worker -> Elasticsearch.

Each story a source delivers reaches the index once per version, and the
index holds its newest version.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from support.ingest import Ingest
from support.poll import wait_for
from support.processes import Worker
from support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token"


def docs(es, index: str) -> dict[str, dict]:
    from elasticsearch.helpers import scan

    if not es.indices.exists(index=index):
        return {}
    es.indices.refresh(index=index)
    return {h["_id"]: {**h["_source"], "_version": h.get("_version")} for h in scan(es, index=index, query={"query": {"match_all": {}}}, version=True)}


def writes(es, index: str) -> int:
    shards = es.indices.stats(index=index, level="shards")["indices"][index]["shards"]
    return sum(c["seq_no"]["max_seq_no"] + 1 for copies in shards.values() for c in copies if c["routing"]["primary"])


def post(url: str, body: bytes) -> int:
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def healthy(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def test_pushed_and_dropped_stories_are_indexed_once_per_version(settings, es, corpus_dir, tmp_path):
    formats = corpus_dir / "formats"
    port = free_port()
    inbox = tmp_path / "inbox"
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: push, kind: push, port: {port}}}\n"
        "  - {name: drop, kind: folder, path: inbox, quiet: 0.3s, scan: 0.2s}\n"
    )
    worker = Worker(settings, tmp_path / "worker.log", "--rules", str(REPO / "examples" / "rules.yaml"))
    ingest = Ingest(settings, sources, tmp_path / "ingest.log", WIREWATCH_INGEST_TOKEN=TOKEN)
    try:
        wait_for(lambda: (inbox / "done").is_dir(), timeout=30, what="ingest watching its folder")
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}/healthz"), timeout=30, what="ingest connected to Kafka")
        g2 = (formats / "newsml-g2" / "dpa_tvo_pol.xml").read_bytes()
        (inbox / "a.part").write_bytes(g2)
        (inbox / "a.part").rename(inbox / "dpa_tvo_pol.xml")
        url = f"http://127.0.0.1:{port}/stories"
        assert post(url, (formats / "ninjs" / "2.1_dpa_text.json").read_bytes()) == 202
        desk = {"id": "desk:e2e", "source": "desk", "title": "OPEC agrees output cut", "body": "OPEC cut its quotas.", "version": 1}
        assert post(url, json.dumps(desk).encode()) == 202
        desk.update(version=2, body="OPEC cut its quotas again.")
        assert post(url, json.dumps(desk).encode()) == 202
        assert post(url, json.dumps(desk).encode()) == 202  # the same version again: not sent
        wait_for(lambda: (inbox / "done" / "dpa_tvo_pol.xml").exists(), timeout=30, what="the file done")
        newer = re.sub(rb'(<newsItem[^>]*\sversion=)"2"', rb'\1"3"', g2, count=1)
        (inbox / "b.part").write_bytes(newer)
        (inbox / "b.part").rename(inbox / "dpa_tvo_pol-v3.xml")

        expected = {
            "urn:newsml:dpa.com:20090101:99-240924-240924082808397": 3,
            "urn:newsml:dpa.com:20090101:190510-99-167362": 2,
            "desk:e2e": 2,
        }
        got = wait_for(
            lambda: (d := docs(es, settings.index)) and {k: v.get("version") for k, v in d.items()} == expected and d,
            timeout=120, what="every story indexed at its newest version",
        )
        assert {k: v["_version"] for k, v in got.items()} == expected
        # One write per version sent: v2 and v3 of the file's story, v2 of the ninjs one, v1 and v2 of the desk's.
        assert writes(es, settings.index) == 5
    finally:
        assert ingest.stop() == 0, ingest.output()[-3000:]
        worker.stop()
