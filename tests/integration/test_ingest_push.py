"""`wirewatch ingest`'s HTTP push endpoint: real POSTs, the real Kafka, and a Kafka that is not there."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from support.ingest import Ingest, sent_stories, versions
from support.poll import wait_for
from support.servers import free_port

TOKEN = "s3cret-push-token"


def call(url: str, body: bytes | None = None, token: str | None = TOKEN, content_type: str = "application/json"):
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    if body is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)
    except (urllib.error.URLError, ConnectionError):
        return None, {}, {}


def push_sources(tmp_path, port: int, name: str = "sources.yaml"):
    path = tmp_path / name
    path.write_text(f"sources:\n  - {{name: wire-push, kind: push, port: {port}, max_bytes: 65536}}\n")
    return path


def test_push_accepts_ninjs_story_json_and_newsml_after_kafka_acknowledged(kafka_settings, tmp_path, corpus_dir):
    formats = corpus_dir / "formats"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sources = push_sources(tmp_path, port)
    ingest = Ingest(kafka_settings, sources, tmp_path / "ingest-1.log", WIREWATCH_INGEST_TOKEN=TOKEN)
    topic = kafka_settings.stories_topic
    try:
        wait_for(lambda: call(f"{base}/healthz", token=None)[0] == 200, timeout=20, what="/healthz 200")

        status, doc, _ = call(f"{base}/stories", (formats / "ninjs" / "2.1_dpa_text.json").read_bytes())
        assert status == 202 and doc["new"] == 1, doc
        [sent] = doc["sent"]
        assert sent["id"] == "urn:newsml:dpa.com:20090101:190510-99-167362" and sent["version"] == 2
        assert sent["at"].startswith(f"{topic}[")

        batch = [
            json.loads((formats / "ninjs" / "1.4_ninjsExMediumText1.json").read_text()),
            {"id": "desk:42", "source": "desk", "title": "Storm warning", "body": "Gales tonight.", "version": 3,
             "pubstatus": "usable", "signals": ["update"], "embargo": "2026-12-05T06:00:00Z", "urgency": 2},
        ]
        status, doc, _ = call(f"{base}/stories", json.dumps(batch).encode())
        assert status == 202 and doc["new"] == 2, doc

        g2 = (formats / "newsml-g2" / "LISTING_1_A_NewsML-G2_News_Item.xml").read_bytes()
        status, doc, _ = call(f"{base}/stories", g2, content_type="application/xml")
        assert status == 202 and [(s["id"], s["version"]) for s in doc["sent"]] == [("urn:newsml:acmenews.com:20161018:US-FINANCE-FED", 11)]

        # A picture: nothing to alert on, nothing wrong either.  A body is read for what it is, whatever its Content-Type.
        picture = (b'<newsItem guid="urn:pic:1" version="1"><itemMeta><itemClass qcode="ninat:picture"/></itemMeta>'
                   b"</newsItem>")
        status, doc, _ = call(f"{base}/stories", picture, content_type="application/xml")
        assert status == 202 and doc["accepted"] == 0 and doc["note"] == "no text items in the document"
        status, doc, _ = call(f"{base}/stories", b'{"uri": "urn:mislabelled", "headline": "JSON sent as XML"}', content_type="application/xml")
        assert status == 202 and doc["new"] == 1

        # The same story again: accepted, nothing sent.
        status, doc, _ = call(f"{base}/stories", (formats / "ninjs" / "2.1_dpa_text.json").read_bytes())
        assert status == 202 and doc["unchanged"] == 1 and doc["sent"] == []

        # Refused, each with its reason; nothing of a refused batch is sent.
        assert call(f"{base}/stories", b"{}", token=None)[0] == 401
        status, _, headers = call(f"{base}/stories", b"{}", token="wrong")
        assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Bearer")
        status, doc, _ = call(f"{base}/stories", b'{"uri": "x",\n "headline": }')
        assert status == 400 and "not JSON" in doc["error"] and ":2:" in doc["error"]
        status, doc, _ = call(f"{base}/stories", json.dumps([{"uri": "urn:never-sent", "headline": "ok"}, {"id": "no-source"}]).encode())
        assert status == 400 and doc["problems"] == [f"wire-push: POST from 127.0.0.1[1]: not a valid story: source: Field required"]
        status, doc, _ = call(f"{base}/stories", b"<newsItem guid='x'><itemMeta></newsItem>", content_type="application/xml")
        assert status == 400 and "not well-formed XML" in doc["error"]
        status, doc, _ = call(f"{base}/stories", b"hello", content_type="text/plain")
        assert status == 415, doc
        status, doc, _ = call(f"{base}/stories", b"[" + b'{"uri": "a"},' * 8000 + b"{}]")
        assert status == 413 and "65536 bytes" in doc["error"]

        page = call(f"{base}/status", token=None)[1]
        assert page["sources"]["wire-push"]["new"] == 5 and page["sources"]["wire-push"]["failed"] >= 7
        assert ingest.proc.poll() is None
    finally:
        assert ingest.stop() == 0, ingest.output()[-3000:]

    # After a restart the same POST sends nothing again; a new version does go out.
    again = Ingest(kafka_settings, sources, tmp_path / "ingest-2.log", WIREWATCH_INGEST_TOKEN=TOKEN)
    try:
        wait_for(lambda: call(f"{base}/healthz", token=None)[0] == 200, timeout=20, what="/healthz 200 after restart")
        status, doc, _ = call(f"{base}/stories", json.dumps(batch).encode())
        assert status == 202 and doc["unchanged"] == 2, doc
        batch[1].update(version=4, pubstatus="canceled", signals=["kill"])
        status, doc, _ = call(f"{base}/stories", json.dumps(batch[1]).encode())
        assert status == 202 and doc["updated"] == 1, doc
    finally:
        assert again.stop() == 0

    stories = sent_stories(kafka_settings, topic)
    assert versions(stories) == {
        ("urn:newsml:dpa.com:20090101:190510-99-167362", 2): 1,
        ("http://ninjs.example.com/newsitems/20130709med123", 1): 1,
        ("desk:42", 3): 1,
        ("desk:42", 4): 1,
        ("urn:newsml:acmenews.com:20161018:US-FINANCE-FED", 11): 1,
        ("urn:mislabelled", 1): 1,
    }
    desk = [s for s in stories if s.id == "desk:42"]
    assert [(s.pubstatus, s.signals, s.urgency, s.embargo.isoformat()) for s in desk] == [
        ("usable", ("update",), 2, "2026-12-05T06:00:00+00:00"),
        ("canceled", ("kill",), 2, "2026-12-05T06:00:00+00:00"),
    ]
    g2_story = next(s for s in stories if s.id == "urn:newsml:acmenews.com:20161018:US-FINANCE-FED")
    assert g2_story.signals == ("update",) and g2_story.embargo is not None


def test_push_answers_503_while_kafka_is_unreachable(kafka_settings, tmp_path, corpus_dir):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    nowhere = kafka_settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    ingest = Ingest(nowhere, push_sources(tmp_path, port), tmp_path / "ingest.log", WIREWATCH_INGEST_TOKEN=TOKEN)
    try:
        status, doc, _ = wait_for(lambda: (r := call(f"{base}/healthz", token=None))[0] and r, timeout=20, what="/healthz answering")
        assert status == 503 and doc["kafka"]
        status, doc, headers = call(f"{base}/stories", (corpus_dir / "formats" / "ninjs" / "2.1_dpa_text.json").read_bytes())
        assert status == 503 and "is not reachable" in doc["error"] and headers["Retry-After"] == "10"
        assert ingest.proc.poll() is None
    finally:
        assert ingest.stop() == 0, ingest.output()[-3000:]


def test_a_second_ingest_on_the_same_state_is_refused(kafka_settings, tmp_path):
    port = free_port()
    sources = push_sources(tmp_path, port)
    first = Ingest(kafka_settings, sources, tmp_path / "first.log", WIREWATCH_INGEST_TOKEN=TOKEN)
    try:
        wait_for(lambda: call(f"http://127.0.0.1:{port}/healthz", token=None)[0] == 200, timeout=20, what="the first ingest")
        second = Ingest(kafka_settings, push_sources(tmp_path, free_port(), "other.yaml"), tmp_path / "second.log",
                        WIREWATCH_INGEST_TOKEN=TOKEN)
        assert second.proc.wait(30) == 2
        assert f"another `wirewatch ingest` (pid {first.proc.pid}) is running" in second.output().replace("\n", " ")
    finally:
        assert first.stop() == 0


def test_a_taken_port_is_a_clear_error(kafka_settings, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ingest = Ingest(kafka_settings, push_sources(tmp_path, port), tmp_path / "ingest.log", WIREWATCH_INGEST_TOKEN=TOKEN)
        assert ingest.proc.wait(30) == 2
    assert f"push source 'wire-push': cannot listen on 127.0.0.1:{port}" in ingest.output().replace("\n", " ")
