"""The configuration the local services are started with, rendered from settings."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from wirewatch.errors import ConfigError
from wirewatch.services import elasticsearch, kafka
from wirewatch.services.endpoints import es_endpoint, kafka_endpoint
from wirewatch.settings import Settings


def parse_properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.mark.parametrize(
    ("bootstrap", "host", "port"),
    [
        ("127.0.0.1:9092", "127.0.0.1", 9092),
        ("localhost:19092,otherhost:9092", "localhost", 19092),
        ("PLAINTEXT://127.0.0.1:29092", "127.0.0.1", 29092),
        (" [::1]:9092", "::1", 9092),
    ],
)
def test_kafka_endpoint_takes_the_first_bootstrap_server_and_the_next_port_for_the_controller(bootstrap, host, port):
    endpoint = kafka_endpoint(bootstrap)
    assert (endpoint.host, endpoint.port) == (host, port)
    assert dict(endpoint.extra_ports) == {"controller": port + 1}


@pytest.mark.parametrize("bootstrap", ["kafka", "127.0.0.1:", ":9092", "127.0.0.1:port", "127.0.0.1:65535"])
def test_kafka_endpoint_rejects_what_is_not_host_and_port(bootstrap):
    with pytest.raises(ConfigError, match="WIREWATCH_KAFKA_BOOTSTRAP"):
        kafka_endpoint(bootstrap)


def test_es_endpoint_defaults_to_9200_and_puts_transport_100_above():
    endpoint = es_endpoint("http://localhost")
    assert (endpoint.host, endpoint.port, dict(endpoint.extra_ports)) == ("localhost", 9200, {"transport": 9300})
    assert es_endpoint("http://127.0.0.1:19200,http://127.0.0.1:19201").port == 19200


@pytest.mark.parametrize("url", ["127.0.0.1:9200", "ftp://127.0.0.1:9200", "https://127.0.0.1:9200", "http://h:99999"])
def test_es_endpoint_rejects_urls_the_local_service_cannot_serve(url):
    with pytest.raises(ConfigError, match="WIREWATCH_ES_URL"):
        es_endpoint(url)


@pytest.mark.parametrize(
    ("host", "local"), [("127.0.0.1", True), ("localhost", True), ("127.0.0.2", True), ("10.0.0.5", False), ("kafka", False)]
)
def test_only_loopback_addresses_are_served_locally(host, local):
    assert kafka_endpoint(f"{host}:9092").is_local is local


def test_server_properties_make_a_one_node_kraft_cluster_on_the_configured_ports(tmp_path: Path):
    endpoint = kafka_endpoint("localhost:19092")
    props = parse_properties(kafka.properties_text(kafka.server_properties(endpoint, tmp_path / "data", 4)))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    # Clients get back the host name they used.
    assert props["advertised.listeners"].startswith("PLAINTEXT://localhost:19092,")
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["num.partitions"] == "4"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_properties_text_escapes_backslashes_and_newlines():
    text = kafka.properties_text({"a": "x\\y", "b": "1\n2"})
    assert "a=x\\\\y\n" in text
    assert "b=1\\n2\n" in text


def test_cluster_ids_are_sixteen_random_bytes_in_url_safe_base64():
    ids = {kafka.cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert len(value) == 22 and not value.startswith("-")
        assert len(base64.urlsafe_b64decode(value + "==")) == 16


def test_the_shipped_pom_names_kafka_and_a_log4j2_binding_with_slf4j_2():
    pom = kafka.pom_text()
    assert kafka.kafka_version(pom) == "4.1.2"
    root = ET.fromstring(pom)
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = {el.tag.split("}")[1]: el.text for el in root.find("m:properties", ns)}
    deps = {
        d.find("m:artifactId", ns).text: d.find("m:version", ns).text.replace("${", "").replace("}", "")
        for d in root.find("m:dependencies", ns)
    }
    versions = {artifact: props.get(v, v) for artifact, v in deps.items()}
    assert versions["kafka_2.13"] == "4.1.2"
    assert versions["log4j-slf4j2-impl"] == versions["log4j-core"]
    assert versions["log4j-core"].startswith(("2.24.", "2.25."))
    assert versions["slf4j-api"].startswith("2.")


def test_the_shipped_log4j2_config_writes_to_the_kafka_logs_dir():
    root = ET.fromstring(kafka.log4j2_text())
    files = [el.get("fileName") for el in root.iter("RollingFile")]
    assert files == ["${sys:kafka.logs.dir}/server.log"]


def test_es_config_is_single_node_on_loopback_with_security_off_only_where_it_exists(tmp_path: Path):
    endpoint = es_endpoint("http://127.0.0.1:19200")
    without = elasticsearch.es_config(endpoint, tmp_path / "d", tmp_path / "l", has_security=False)
    with_security = elasticsearch.es_config(endpoint, tmp_path / "d", tmp_path / "l", has_security=True)
    assert "xpack.security.enabled" not in without
    assert with_security["xpack.security.enabled"] is False
    parsed = yaml.safe_load(elasticsearch.config_text(with_security))
    assert parsed == with_security
    assert parsed["discovery.type"] == "single-node"
    assert parsed["network.host"] == "127.0.0.1"
    assert (parsed["http.port"], parsed["transport.port"]) == (19200, 19300)
    assert parsed["path.data"] == str(tmp_path / "d")


def test_es_heap_is_set_from_settings_and_validated():
    assert elasticsearch.jvm_options_text("512m").splitlines()[1:] == ["-Xms512m", "-Xmx512m"]
    assert Settings(es_heap="2g").es_heap == "2g"
    with pytest.raises(ValueError):
        Settings(es_heap="lots")
