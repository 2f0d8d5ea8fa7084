"""The Faust application every worker runs, whatever stages it installs."""

from __future__ import annotations

from wirewatch.settings import Settings


def create_app(settings: Settings):
    """A Faust app for the worker: one consumer group (`app_id`) shared by all workers."""
    # Faust's app with the consumer that hands messages on without two
    # trips round the event loop; imported here because it imports Faust.
    from .eager import App

    datadir = settings.home / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = App(
        settings.app_id,
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",") if h.strip()],
        # Agents decode payloads themselves so that a bad message is caught
        # per message and parked, instead of failing inside Faust.
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        # Kafka's rule of thumb: heartbeats at most a third of the session apart.
        broker_heartbeat_interval=min(3.0, settings.kafka_session_timeout_seconds / 3),
        table_standby_replicas=settings.table_standby_replicas,
        # Measured with benchmarks/pipeline_bench.py: Faust's defaults (1 MB
        # fetched per partition, no linger, 16 kB batches) hold a worker
        # draining a backlog to a third of what these give.
        consumer_max_fetch_size=settings.fetch_max_bytes_per_partition,
        broker_max_poll_records=settings.fetch_max_records,
        stream_buffer_maxsize=settings.stream_buffer,
        producer_linger_ms=settings.produce_linger_ms,
        producer_max_batch_size=settings.produce_batch_bytes,
        web_enabled=bool(settings.web_port),
        web_port=settings.web_port or 6066,
        datadir=str(datadir),
        store="memory://",
    )
    return app


def worker(app, loglevel: str, redirect_stdouts: bool = True):
    """A Faust worker for `app`, without Faust's terminal spinner.

    At log levels from WARNING up, faust.Worker sets the root logger to
    DEBUG so that its spinner turns on every record: every debug line of
    aiokafka (one per message sent) is then built and thrown away, which
    cost the pipeline several percent.  Logs go to files and services here,
    where a spinner only leaves escape codes.
    """
    import faust

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger, level: int) -> None:
            self.spinner = None

    return Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=redirect_stdouts)
