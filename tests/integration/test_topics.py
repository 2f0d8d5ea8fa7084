"""`topics.ensure` on a real broker: creates what is missing, with its configuration, and only that."""

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from wirewatch import kafka_clients, topics
from wirewatch.errors import ServiceUnavailable


def test_ensure_creates_only_the_missing_topics_with_their_partitions_and_configs(kafka_settings):
    s = kafka_settings
    admin = kafka_clients.admin(s)
    try:
        assert topics.ensure(s, [s.rules_topic]) == [s.rules_topic]
        # Asked again, with one that exists and one that does not: only the new one is created.
        assert topics.ensure(s, [s.rules_topic, s.stories_topic]) == [s.stories_topic]
        assert set(topics.ensure(s)) == set(topics.specs(s)) - {s.rules_topic, s.stories_topic}
        assert topics.ensure(s) == []

        described = {t["name"]: t for t in admin.describe_topics(list(topics.specs(s)))}
        assert {name: t["error_code"] for name, t in described.items()} == {name: 0 for name in topics.specs(s)}
        assert all(len(t["partitions"]) == s.partitions for t in described.values())
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, s.rules_topic)])
        assert configs["topic"][s.rules_topic]["cleanup.policy"]["value"] == "compact"
    finally:
        admin.delete_topics(list(topics.specs(s)))
        admin.close()


def test_a_topic_kafka_refuses_to_create_is_named_with_the_reason(kafka_settings):
    # One broker cannot hold three replicas.
    s = kafka_settings.model_copy(update={"replication": 3})
    with pytest.raises(ServiceUnavailable) as refused:
        topics.ensure(s, [s.rules_topic])
    assert s.rules_topic in str(refused.value) and "replication" in str(refused.value).lower()
