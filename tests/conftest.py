"""Where the tests find Kafka and Elasticsearch.

Nothing starts unless a test asks for `kafka_bootstrap`, `es_url` or a
settings fixture, so tests/unit runs with no servers at all.  Asked for, each
service is found in this order:

1. WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL name a running one (what
   `make test` does after `wirewatch services up`);
2. a Docker engine answers: a throwaway container per session (testcontainers);
3. otherwise the local services of `wirewatch services` are started (or a
   Kafka/Elasticsearch already answering on the default ports is used), and
   stopped again at the end of the session if this session started them.

Tests under tests/integration and tests/e2e are marked `integration` and
`e2e`, so `pytest -m "not integration and not e2e"` runs only the unit tests.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import names
from wirewatch.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

# Images for the Docker path; same Kafka (Confluent 8.1 = Apache Kafka 4.1) and
# Elasticsearch versions as the local services and docker-compose.yml.
KAFKA_IMAGE = "confluentinc/cp-kafka:8.1.1"
ES_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:{version}"
READY_S = 60.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            top = item.path.relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if top == "integration":
            item.add_marker(pytest.mark.integration)
        elif top == "e2e":
            item.add_marker(pytest.mark.e2e)


def _docker_answers() -> bool:
    try:
        import docker
        import requests
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (DockerException, requests.RequestException, OSError):
        return False


def _wait_until(probe, what: str) -> None:
    deadline = time.monotonic() + READY_S
    while True:
        health = probe()
        if health.ok:
            return
        if time.monotonic() >= deadline:
            pytest.fail(f"{what} does not answer ({health.text}) after {READY_S:.0f} s", pytrace=False)
        time.sleep(0.5)


class _Provider:
    """Gets each service once per session and undoes what it started."""

    def __init__(self) -> None:
        self.cleanup = contextlib.ExitStack()
        self._docker: bool | None = None

    @property
    def docker(self) -> bool:
        if self._docker is None:
            self._docker = _docker_answers()
        return self._docker

    def kafka(self) -> str:
        if self.docker:
            from testcontainers.community.kafka import KafkaContainer

            container = KafkaContainer(KAFKA_IMAGE).with_kraft().with_env("KAFKA_NUM_PARTITIONS", "4")
            self.cleanup.enter_context(container)
            return container.get_bootstrap_server()
        return self._local("kafka", "WIREWATCH_KAFKA_BOOTSTRAP")

    def elasticsearch(self) -> str:
        if self.docker:
            from testcontainers.community.elasticsearch import ElasticSearchContainer

            from wirewatch.services.elasticsearch import VERSION

            container = ElasticSearchContainer(ES_IMAGE.format(version=VERSION), mem_limit="2g").with_env(
                "ES_JAVA_OPTS", "-Xms1g -Xmx1g"
            )
            self.cleanup.enter_context(container)
            return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(container.port)}"
        return self._local("elasticsearch", "WIREWATCH_ES_URL")

    def _local(self, name: str, variable: str) -> str:
        from wirewatch import services
        from wirewatch.errors import WireWatchError

        # The variable is unset here, so the service gets its default port.
        home = Path(os.environ.get("WIREWATCH_HOME", ROOT / ".wirewatch"))
        settings = Settings(home=home if home.is_absolute() else ROOT / home)
        try:
            [report] = services.up(settings, (name,), use_existing=True)
        except WireWatchError as exc:
            pytest.fail(
                f"no {name} for the tests: {variable} is not set, no Docker engine answers, and the local "
                f"service could not start: {exc}",
                pytrace=False,
            )
        if report.started_now:
            self.cleanup.callback(services.down, settings, (name,))
        return settings.kafka_bootstrap if name == "kafka" else settings.es_url


@pytest.fixture(scope="session")
def _service_provider() -> Iterator[_Provider]:
    provider = _Provider()
    with provider.cleanup:
        yield provider


def _named(variable: str, endpoint_of, probe, title: str) -> str | None:
    """The service the variable names, once it answers (None when the variable is unset)."""
    named = os.environ.get(variable)
    if named:
        endpoint = endpoint_of(named)
        _wait_until(lambda: probe(endpoint.host, endpoint.port), f"{title} at {variable}={named}")
    return named


@pytest.fixture(scope="session")
def kafka_bootstrap(_service_provider: _Provider) -> str:
    """host:port of a Kafka broker for this session."""
    from wirewatch.services.endpoints import kafka_endpoint
    from wirewatch.services.kafka import probe_kafka

    _used["kafka"] = _named("WIREWATCH_KAFKA_BOOTSTRAP", kafka_endpoint, probe_kafka, "Kafka") or _service_provider.kafka()
    return _used["kafka"]


@pytest.fixture(scope="session")
def es_url(_service_provider: _Provider) -> str:
    """URL of an Elasticsearch for this session."""
    from wirewatch.services.elasticsearch import probe_es
    from wirewatch.services.endpoints import es_endpoint

    _used["es"] = _named("WIREWATCH_ES_URL", es_endpoint, probe_es, "Elasticsearch") or _service_provider.elasticsearch()
    return _used["es"]


@pytest.fixture
def unique_name() -> str:
    """A fresh name for this test's topics, index and consumer group (deleted when the session ends)."""
    return names.fresh()


# The servers this session used, for `names.remove_all` at its end.
_used: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def _remove_what_the_session_made() -> Iterator[None]:
    # Set up before any server fixture, so torn down after them: a server
    # this session started is gone by then, and so is everything on it.
    yield
    names.remove_all(_used.get("kafka"), _used.get("es"))


def _test_settings(tmp_path: Path, name: str, **services: str) -> Settings:
    return Settings(
        topic_prefix=name,
        index=name,
        app_id=name,
        home=tmp_path / "wirewatch-home",
        # Several workers share a host in the tests: a test that scrapes one gives it a port of its own.
        metrics_port=0,
        ingest_metrics_port=0,
        # Tests kill workers: the group then waits this long for the dead one
        # before the others (or its restart) get its partitions.  The default
        # of 60 s would be most of such a test's time.
        kafka_session_timeout_seconds=10,
        **services,
    )


@pytest.fixture
def settings(kafka_bootstrap: str, es_url: str, unique_name: str, tmp_path: Path) -> Settings:
    """Settings for one test: real Kafka and Elasticsearch, topics/index/group of its own."""
    return _test_settings(tmp_path, unique_name, kafka_bootstrap=kafka_bootstrap, es_url=es_url)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> Settings:
    """Like `settings` for tests that need only Kafka (no Elasticsearch is started).

    es_url points at a closed port, so a test that reaches for Elasticsearch
    by mistake fails at once instead of writing to someone's server.
    """
    return _test_settings(tmp_path, unique_name, kafka_bootstrap=kafka_bootstrap, es_url="http://127.0.0.1:1")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus (WIREWATCH_CORPUS_DIR, else ../shared/corpus beside the repo)."""
    path = Path(os.environ.get("WIREWATCH_CORPUS_DIR", ROOT.parent / "shared" / "corpus"))
    if not (path / "reuters21578").is_dir():
        pytest.fail(f"the shared corpus is not at {path}; set WIREWATCH_CORPUS_DIR", pytrace=False)
    return path
