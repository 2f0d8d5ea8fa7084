"""The shared fixtures hand out services that answer and names no other test uses."""

from __future__ import annotations

from wirewatch.services.elasticsearch import probe_es
from wirewatch.services.endpoints import es_endpoint, kafka_endpoint
from wirewatch.services.kafka import probe_kafka
from wirewatch.settings import Settings


def test_settings_point_at_answering_services_with_names_of_their_own(settings: Settings, kafka_settings: Settings):
    kafka = kafka_endpoint(settings.kafka_bootstrap)
    es = es_endpoint(settings.es_url)
    assert probe_kafka(kafka.host, kafka.port).ok
    assert probe_es(es.host, es.port).ok
    assert settings.topic_prefix.startswith("test-") and settings.index == settings.topic_prefix
    assert settings.stories_topic == f"{settings.topic_prefix}.stories"
    # Both fixtures belong to this one test, so they share its unique name.
    assert kafka_settings.topic_prefix == settings.topic_prefix
    assert kafka_settings.kafka_bootstrap == settings.kafka_bootstrap


def test_each_test_gets_another_name(settings: Settings, unique_name: str):
    assert settings.topic_prefix == unique_name
    assert unique_name not in _seen
    _seen.add(unique_name)


def test_each_test_gets_another_name_again(settings: Settings, unique_name: str):
    assert unique_name not in _seen
    _seen.add(unique_name)


_seen: set[str] = set()
