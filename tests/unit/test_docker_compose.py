"""docker-compose.yml stays in step with the settings and the local services.

Docker cannot run here (nor `docker compose config`), so this checks what
can drift in the YAML: versions, every WIREWATCH_* variable reaching the
worker, healthchecks, start order and the one-shot Kibana set-up service.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wirewatch.services import elasticsearch, kafka
from wirewatch.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_images_are_the_versions_the_local_services_run(compose):
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{kafka.kafka_version(kafka.pom_text())}"
    assert services["elasticsearch"]["image"].endswith(f"/elasticsearch:{elasticsearch.VERSION}")
    assert services["kibana"]["image"].endswith(f"/kibana:{elasticsearch.VERSION}")


def test_the_worker_gets_every_wirewatch_variable(compose):
    env = compose["services"]["worker"]["environment"]
    expected = {f"WIREWATCH_{name.upper()}" for name in Settings.model_fields}
    assert set(env) == expected
    assert env["WIREWATCH_KAFKA_BOOTSTRAP"] == "kafka:19092"
    assert env["WIREWATCH_ES_URL"] == "http://elasticsearch:9200"


def test_servers_have_healthchecks_and_the_worker_waits_for_them(compose):
    services = compose["services"]
    for name in ("kafka", "elasticsearch", "kibana"):
        assert services[name]["healthcheck"]["test"], name
    assert services["worker"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "elasticsearch": {"condition": "service_healthy"},
    }
    assert services["kibana"]["depends_on"] == {"elasticsearch": {"condition": "service_healthy"}}
    assert services["worker"]["command"] == ["worker"]


def test_elasticsearch_is_single_node_without_security(compose):
    env = compose["services"]["elasticsearch"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"


def test_a_one_shot_service_imports_the_kibana_objects_once_kibana_is_healthy(compose):
    services = compose["services"]
    setup = services["kibana-setup"]
    assert setup["image"] == services["worker"]["image"] and setup["build"] == services["worker"]["build"]
    assert setup["command"] == ["kibana", "import"]
    assert setup["depends_on"] == {"kibana": {"condition": "service_healthy"}}
    assert setup["restart"] == "no" or str(setup["restart"]).startswith("on-failure")
    env = setup["environment"]
    # Kibana inside the network; which index, which rules, and how to log in come from the host.
    assert env["WIREWATCH_KIBANA_URL"] == "http://kibana:5601"
    for name in ("WIREWATCH_INDEX", "WIREWATCH_RULES_FILE", "WIREWATCH_KIBANA_USERNAME",
                 "WIREWATCH_KIBANA_PASSWORD", "WIREWATCH_KIBANA_API_KEY"):
        assert name in env and env[name] is None, name
    assert set(env) <= {f"WIREWATCH_{name.upper()}" for name in Settings.model_fields}
    assert "/api/status" in " ".join(services["kibana"]["healthcheck"]["test"])


def test_the_worker_links_alerts_to_the_kibana_the_host_reaches(compose):
    env = compose["services"]["worker"]["environment"]
    assert env["WIREWATCH_KIBANA_URL"] == "${WIREWATCH_KIBANA_URL:-http://localhost:${KIBANA_PORT:-5601}}"


def test_the_worker_is_healthy_when_ready_and_its_metrics_port_is_published(compose):
    worker = compose["services"]["worker"]
    env = worker["environment"]
    assert env["WIREWATCH_METRICS_PORT"] == 9464
    assert "127.0.0.1:${METRICS_PORT:-9464}:9464" in worker["ports"]
    check = " ".join(worker["healthcheck"]["test"])
    assert "http://127.0.0.1:9464/readyz" in check
    # The image is python:slim: no curl in it.
    assert worker["healthcheck"]["test"][:2] == ["CMD", "python"]


def test_prometheus_scrapes_the_worker_and_grafana_has_it_as_datasource(compose):
    services = compose["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["image"].startswith("prom/prometheus:v")
    assert grafana["image"].startswith("grafana/grafana:")
    config = next(v for v in prometheus["volumes"] if v.endswith(":/etc/prometheus/prometheus.yml:ro"))
    scrape = yaml.safe_load((ROOT / config.split(":")[0]).read_text())
    targets = [t for job in scrape["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"worker:{compose['services']['worker']['environment']['WIREWATCH_METRICS_PORT']}"]

    mounts = {v.split(":")[1]: ROOT / v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    provisioning = mounts["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "wirewatch.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (mounts["/var/lib/grafana/dashboards"] / "wirewatch.json").is_file()
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_the_dashboard_uses_the_provisioned_datasource_and_only_metrics_the_worker_exports(compose):
    import json
    import re

    from wirewatch.pipeline.metrics import NAMES

    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "wirewatch.json").read_text())
    source = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        for target in panel["targets"]:
            names = re.findall(r"\bwirewatch_[a-z0-9_]+", target["expr"])
            assert names, (panel["title"], target["expr"])
            used.update(re.sub(r"_(bucket|sum|count)$", "", n) for n in names)
    assert used <= set(NAMES), used - set(NAMES)
    # Every metric is on the dashboard but the offsets behind the lag (shown as lag).
    assert set(NAMES) - used == {"wirewatch_consumer_committed_offset", "wirewatch_partition_end_offset"}
