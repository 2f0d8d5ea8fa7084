import pytest
from streams import elastic


@pytest.fixture
def es(settings):
    """A client of the test's Elasticsearch; the test's index is deleted afterwards."""
    client = elastic.sync_client(settings)
    yield client
    client.indices.delete(index=settings.index, ignore_unavailable=True)
    client.close()
