"""The Faust app a worker runs is configured from the settings (no connection is made)."""

from wirewatch.pipeline.faust_app import create_app
from wirewatch.settings import Settings


def test_group_timing_standby_copies_and_fetch_sizes_come_from_the_settings(tmp_path):
    settings = Settings(home=tmp_path, app_id="wirewatch-test", kafka_session_timeout_seconds=12,
                        table_standby_replicas=0, fetch_max_records=777)
    conf = create_app(settings).conf
    assert conf.id == "wirewatch-test"
    assert conf.broker_session_timeout == 12
    assert conf.broker_heartbeat_interval == 3.0  # a third of the session, at most 3 s
    assert conf.table_standby_replicas == 0
    assert conf.broker_max_poll_records == 777
    assert create_app(Settings(home=tmp_path)).conf.table_standby_replicas == 1  # Faust's own default
