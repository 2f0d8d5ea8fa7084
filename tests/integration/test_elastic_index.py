"""The story index on a real Elasticsearch: template, idempotent writes, versions."""

import asyncio

import pytest

from streams import elastic
from streams.indexing import bulk_operations, doc_of, outcome
from wirewatch.model import MatchedStory, Story


def item(version: int, title: str) -> MatchedStory:
    return MatchedStory(story=Story(id="ninjs:urn:1", version=version, source="t", title=title, body="b"), rules=("r",))


@pytest.fixture
def es(settings):
    client = elastic.sync_client(settings)
    yield client
    client.indices.delete(index=settings.index, ignore_unavailable=True)
    client.options(ignore_status=404).indices.delete_index_template(name=elastic.template_name(settings.index))
    client.close()


def write(settings, items):
    async def go():
        client = elastic.async_client(settings)
        try:
            return [outcome(r)[0] for r in await elastic.bulk(client, bulk_operations([doc_of(i) for i in items], settings.index))]
        finally:
            await client.close()

    return asyncio.run(go())


def test_template_maps_fields_explicitly(settings, es):
    elastic.ensure_index_sync(es, settings.index)
    elastic.ensure_index_sync(es, settings.index)  # harmless twice
    props = es.indices.get_mapping(index=settings.index)[settings.index]["mappings"]["properties"]
    assert props["title"]["type"] == "text" and props["body"]["type"] == "text"
    assert props["rules"]["type"] == "keyword" and props["story_id"]["type"] == "keyword"
    assert props["@timestamp"]["type"] == "date"


def test_redelivery_is_idempotent_and_old_versions_never_win(settings, es):
    elastic.ensure_index_sync(es, settings.index)
    assert write(settings, [item(2, "second")]) == ["indexed"]
    assert write(settings, [item(2, "second")]) == ["stale"]  # redelivered: not written again
    assert write(settings, [item(1, "first")]) == ["stale"]  # late older version: refused
    assert write(settings, [item(3, "third"), item(2, "second")]) == ["indexed", "stale"]
    es.indices.refresh(index=settings.index)
    assert es.count(index=settings.index)["count"] == 1
    doc = es.get(index=settings.index, id="ninjs:urn:1")
    assert doc["_source"]["title"] == "third" and doc["_version"] == 3


def test_unreachable_cluster_is_a_retriable_error(settings):
    from wirewatch.errors import ServiceUnavailable

    down = settings.model_copy(update={"es_url": "http://127.0.0.1:9"})
    with pytest.raises(ServiceUnavailable) as err:
        write(down, [item(1, "x")])
    assert err.value.retriable and "not reachable" in str(err.value)
