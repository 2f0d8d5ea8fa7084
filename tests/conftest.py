import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = Path(os.environ.get("WIREWATCH_CORPUS_DIR", REPO.parent / "shared" / "corpus"))
    if not (path / "reuters21578").is_dir():
        pytest.fail(f"the shared corpus is not at {path}; set WIREWATCH_CORPUS_DIR")
    return path


# PROVISIONAL until the service fixtures land: env vars or the local defaults.
import uuid


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return os.environ.get("WIREWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


@pytest.fixture(scope="session")
def es_url() -> str:
    return os.environ.get("WIREWATCH_ES_URL", "http://127.0.0.1:9200")


@pytest.fixture
def settings(kafka_bootstrap, es_url, tmp_path):
    from wirewatch.settings import Settings

    name = f"test-{uuid.uuid4().hex[:10]}"
    return Settings(kafka_bootstrap=kafka_bootstrap, es_url=es_url, topic_prefix=name, index=name, app_id=name, home=tmp_path / "home")
