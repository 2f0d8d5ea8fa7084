"""`wirewatch produce` against a real Kafka broker."""

import json

from support.kafka import topic_records
from support.processes import run


def test_produce_keys_by_story_id_and_skips_bad_items(settings, corpus_dir, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text(
        '[{"uri": "u:1", "headline": "ok", "version": "1"}, {"headline": "no uri"}, {"uri": "u:1", "headline": "ok", "version": "2"}]'
    )
    result = run(
        settings, "produce", "--no-progress", "--limit", "300", str(bad), str(corpus_dir / "reuters21578" / "reut2-003.sgm")
    )
    assert result.returncode == 0, result.stderr
    assert f"{bad}[1]: ninjs item has no 'uri'" in result.stderr.replace("\n", "")
    assert "sent 300 stories" in result.stderr
    records = topic_records(settings, settings.stories_topic)
    assert len(records) == 300
    ids = [json.loads(r.value)["id"] for r in records]
    assert all(r.key.decode() == json.loads(r.value)["id"] for r in records)
    assert "reuters-21578:3001" in ids
    # Both versions of a story land on one partition, in order; stories spread over all partitions.
    versions = [(r.partition, json.loads(r.value)["version"]) for r in records if r.key == b"u:1"]
    assert len(versions) == 2 and versions[0][0] == versions[1][0] and [v for _, v in versions] == [1, 2]
    assert len({r.partition for r in records}) == 4


def test_produce_reports_an_unreachable_broker(settings, corpus_dir):
    down = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:9"})
    result = run(down, "produce", "--no-progress", str(corpus_dir / "samples"))
    assert result.returncode == 1
    assert "Kafka at 127.0.0.1:9 is not reachable" in result.stderr


def test_stories_kafka_refuses_are_saved_and_named_and_send_again(kafka_settings, corpus_dir, tmp_path):
    from kafka.admin import NewTopic

    from wirewatch import kafka_clients

    # A real broker's refusal: this topic takes no message over 2,000 bytes, and many stories are longer.
    small = f"{kafka_settings.topic_prefix}.small"
    admin = kafka_clients.admin(kafka_settings)
    try:
        admin.create_topics([NewTopic(small, 2, 1, topic_configs={"max.message.bytes": "2000"})])
    finally:
        admin.close()
    unsent = tmp_path / "unsent.jsonl"
    source = str(corpus_dir / "reuters21578" / "reut2-003.sgm")
    result = run(kafka_settings, "produce", "--no-progress", "--limit", "200", "--topic", small, "--unsent", str(unsent), source)
    assert result.returncode == 1, result.stderr
    saved = [json.loads(line) for line in unsent.read_text().splitlines()]
    on_topic = topic_records(kafka_settings, small)
    assert saved and len(saved) + len(on_topic) == 200
    assert f"{len(saved)} stories were not acknowledged by Kafka; they are saved in" in result.stderr.replace("\n", "")
    assert {s["id"] for s in saved}.isdisjoint(json.loads(r.value)["id"] for r in on_topic)

    again = run(kafka_settings, "produce", "--no-progress", str(unsent))
    assert again.returncode == 0, again.stderr
    assert sorted(json.loads(r.value)["id"] for r in topic_records(kafka_settings, kafka_settings.stories_topic)) == sorted(s["id"] for s in saved)


def test_produce_newsml_and_feeds(kafka_settings, corpus_dir):
    formats = corpus_dir / "formats"
    inputs = [formats / "newsml-g2", formats / "feeds" / "TechCrunch.xml", formats / "feeds" / "uolNoticias.rss"]
    result = run(kafka_settings, "produce", "--no-progress", *map(str, inputs))
    assert result.returncode == 0, result.stderr
    assert "sent 41 stories" in result.stderr  # 6 NewsML-G2 text items, 20 + 15 feed items
    stories = {r.key.decode(): json.loads(r.value) for r in topic_records(kafka_settings, kafka_settings.stories_topic)}
    assert len(stories) == 41
    correction = stories["urn:newsml:dpa.com:20090101:99-240924-240924082808397"]
    assert correction["version"] == 2 and correction["signals"] == ["correction"] and correction["urgency"] == 3
    embargoed = stories["urn:newsml:acmenews.com:20161018:US-FINANCE-FED"]
    assert embargoed["embargo"] == "2018-10-23T12:00:00Z" and embargoed["signals"] == ["update"]
    assert stories["http://techcrunch.com/?p=446154"]["source"] == "TechCrunch"
