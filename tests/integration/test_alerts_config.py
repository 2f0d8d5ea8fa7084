"""A worker whose topics do not match its partition count stops and says why."""

import pytest
from support import names
from support.poll import wait_for
from alerts_worker import AlertsWorker

pytestmark = pytest.mark.integration


def test_a_matches_topic_with_other_partitions_stops_the_worker(tmp_path, kafka_bootstrap):
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    name = names.fresh("t", 10)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(f"{name}.matches", num_partitions=3, replication_factor=1)])
    admin.close()
    worker = AlertsWorker(tmp_path, [{"id": "r", "subscribers": [{"console": True}]}], kafka_bootstrap, name=name)
    try:
        proc = worker.launch()
        wait_for(lambda: proc.poll() is not None, 120, 0.5, "the worker to stop")
        assert proc.returncode != 0
        assert f"needs 2 partitions (WIREWATCH_PARTITIONS) in {name}.matches (has 3)" in worker.log()
    finally:
        worker.close()
