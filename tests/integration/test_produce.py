"""`wirewatch produce` against a real Kafka broker."""

import json
import subprocess
import sys

from kafka import TopicPartition

from wirewatch import kafka_clients


def read_all(settings, topic):
    consumer = kafka_clients.consumer(settings, "test-reader")
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def run_cli(settings, *args):
    env = {
        "WIREWATCH_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "WIREWATCH_TOPIC_PREFIX": settings.topic_prefix,
        "WIREWATCH_PARTITIONS": "4",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run([sys.executable, "-m", "wirewatch", *args], env=env, capture_output=True, text=True, timeout=120)


def test_produce_keys_by_story_id_and_skips_bad_items(settings, corpus_dir, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('[{"uri": "u:1", "headline": "ok", "version": "1"}, {"headline": "no uri"}]')
    result = run_cli(
        settings, "produce", "--no-progress", "--limit", "300", str(bad), str(corpus_dir / "reuters21578" / "reut2-003.sgm")
    )
    assert result.returncode == 0, result.stderr
    assert f"{bad}[1]: ninjs item has no 'uri'" in result.stderr.replace("\n", "")
    assert "sent 300 stories" in result.stderr
    records = read_all(settings, settings.stories_topic)
    assert len(records) == 300
    ids = [json.loads(r.value)["id"] for r in records]
    assert all(r.key.decode() == json.loads(r.value)["id"] for r in records)
    assert "u:1" in ids and "reuters-21578:3001" in ids
    # Kafka's own partitioner puts all versions of a story on one partition.
    assert len({r.partition for r in records}) == 4


def test_produce_reports_an_unreachable_broker(settings, corpus_dir):
    down = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:9"})
    result = run_cli(down, "produce", "--no-progress", str(corpus_dir / "samples"))
    assert result.returncode == 1
    assert "Kafka at 127.0.0.1:9 is not reachable" in result.stderr
