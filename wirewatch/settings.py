"""The one settings object, built once at start-up from the environment.

Every variable is `WIREWATCH_<NAME>`; the README's configuration table is
generated from the descriptions here (`wirewatch config --env`).  Nothing
reads the environment at import time: call `Settings()` (or `load()`) in the
bootstrap and pass the object on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIREWATCH_", extra="ignore", frozen=True)

    # Services
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port.")
    es_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL (comma-separated for several nodes).")
    es_username: str | None = Field(None, description="Elasticsearch user, when security is on.")
    es_password: SecretStr | None = Field(None, description="Elasticsearch password.")
    es_api_key: SecretStr | None = Field(None, description="Elasticsearch API key (instead of user and password).")

    # Names
    app_id: str = Field("wirewatch", description="Faust application id: the consumer group of all workers.")
    topic_prefix: str = Field("wirewatch", description="Prefix of every topic name.")
    index: str = Field("wirewatch-stories", description="Elasticsearch index (or alias) for stories.")
    index_replicas: int = Field(0, ge=0, description="Replicas of each shard of the story index; 0 suits one node, raise it on a cluster.")
    partitions: int = Field(4, ge=1, description="Partitions of topics WireWatch creates; the most workers that share the work.")
    replication: int = Field(1, ge=1, description="Replication factor of topics WireWatch creates.")

    # Rules and files
    rules_file: Path | None = Field(None, description="Rules file a worker publishes to the rules topic when it starts (as `wirewatch rules apply` would).")
    corpus_dir: Path = Field(Path("../shared/corpus"), description="Where the shared wire-story corpus lives.")
    home: Path = Field(Path(".wirewatch"), description="Folder for local services, their data and logs, and worker state.")
    es_heap: str = Field("1g", pattern=r"^[0-9]+[kmgKMG]$", description="Java heap of the Elasticsearch that `wirewatch services up` starts (and of the Docker one), e.g. 1g or 512m.")

    # Worker
    web_port: int | None = Field(None, description="Port of the Faust worker's web interface (statistics, table views); off when unset or 0.")
    metrics_port: int = Field(
        9464, ge=0, le=65535,
        description="Port of a worker's /metrics (Prometheus), /healthz, /readyz and /status; 0 turns them off. Two workers on one host need two ports.",
    )
    ingest_metrics_port: int = Field(
        9465, ge=0, le=65535,
        description="Port of `wirewatch ingest`'s /metrics (Prometheus), /healthz, /readyz and /status; 0 turns them off.",
    )
    metrics_host: str = Field("0.0.0.0", description="Address the metrics and health port listens on (127.0.0.1: this host only).")
    status_urls: str = Field(
        "http://127.0.0.1:9464", description="Metrics endpoints of the workers `wirewatch status` asks, comma-separated."
    )
    index_batch: int = Field(500, ge=1, description="Most stories per Elasticsearch bulk request.")
    index_concurrency: int = Field(2, ge=1, description="Most bulk requests a worker has in flight at once (Elasticsearch indexes one while the next is sent).")
    index_batch_seconds: float = Field(0.25, gt=0, description="Longest wait to fill a bulk request (what a story may wait to be indexed when few arrive).")
    fetch_max_bytes_per_partition: int = Field(1024 * 1024, ge=65536, description="Most bytes a worker fetches from one partition at a time (larger fetches of a backlog keep its later stages waiting).")
    fetch_max_records: int = Field(5000, ge=1, description="Most messages a worker takes from Kafka in one poll.")
    stream_buffer: int = Field(16384, ge=1, description="Messages a worker holds per stream, read ahead of the agent.")
    kafka_session_timeout_seconds: float = Field(
        60.0, ge=6, le=300,
        description="How long the consumer group waits for a worker that stopped heartbeating (killed, or its host gone) "
                    "before its partitions go to the others: shorter fails over sooner, too short drops a busy worker. "
                    "Kafka's brokers accept 6-300 s by default.",
    )
    table_standby_replicas: int = Field(
        1, ge=0,
        description="Copies of each table partition (alert state, progress) that other workers keep up to date (Faust's standby "
                    "tables), so that one of them takes over a dead worker's partitions at once. Each copy costs every "
                    "worker CPU for every state change of the others: with two workers at 100,000 rules, 0 used a quarter "
                    "less CPU a story (benchmarks/README.md), and a take-over then reads the state from Kafka first.",
    )
    produce_linger_ms: int = Field(5, ge=0, description="How long a worker waits to fill a produce request (throughput against latency).")
    produce_batch_bytes: int = Field(1024 * 1024, ge=1024, description="Largest produce request per partition.")
    delivery_timeout_seconds: float = Field(
        120.0, gt=0, description="How long a producer of stories keeps trying to get a story acknowledged before it reports it unsent."
    )
    matcher_engine: Literal["auto", "native", "python"] = Field("auto", description="Which index decides matches: the compiled core (native) when built, else pure Python; `python` forces the pure-Python one.")
    match_batch: int = Field(500, ge=1, description="Most stories the match stage takes from Kafka at once.")
    match_batch_seconds: float = Field(0.02, gt=0, description="Longest wait to fill a batch of stories to match.")
    alerts_batch: int = Field(500, ge=1, description="Most matches the alert stage decides at once (one flush to Kafka per batch).")
    alerts_batch_seconds: float = Field(0.02, gt=0, description="Longest wait to fill a batch of matches to decide.")
    alerts_share_when_behind: float = Field(
        0.1, gt=0, le=1,
        description="While this worker's matching or indexing has a backlog (more stories waiting than one bulk request "
                    "holds), the most of the worker's time the alert stage takes, so that the backlog is searchable first; "
                    "alerts catch up once it is gone. 1: alerts keep step with matching.")
    log_level: str = Field("info", description="Log level of workers: debug, info, warning, error.")

    # Alerts: email
    smtp_host: str = Field("127.0.0.1", description="SMTP server.")
    smtp_port: int = Field(1025, description="SMTP port (587 for STARTTLS, 465 for TLS).")
    smtp_security: str = Field("none", pattern="^(none|starttls|tls)$", description="none, starttls or tls.")
    smtp_username: str | None = Field(None, description="SMTP user, when the server wants a login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("wirewatch@localhost", description="From address of alert email.")
    smtp_timeout: float = Field(10.0, gt=0, description="Seconds to wait for the SMTP server.")
    smtp_ca_file: Path | None = Field(None, description="Extra CA certificate (PEM) to trust for the SMTP server's TLS certificate.")

    # Alerts: Slack
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token for channel subscriptions (xoxb-...).")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL.")
    slack_timeout: float = Field(10.0, gt=0, description="Seconds to wait for Slack.")

    # Ingest
    ingest_token: SecretStr | None = Field(
        None, description="Bearer token that senders to `wirewatch ingest`'s HTTP push sources must give (Authorization: Bearer ...)."
    )

    # Kibana
    kibana_url: str | None = Field(
        None,
        description="Kibana URL (add /s/<space> for a space other than the default) that `wirewatch kibana import` and `rules apply` put the data view, saved searches and dashboard in; alert links open the story there.",
    )
    kibana_username: str | None = Field(None, description="Kibana user, when security is on.")
    kibana_password: SecretStr | None = Field(None, description="Kibana password.")
    kibana_api_key: SecretStr | None = Field(None, description="Kibana API key, the encoded form (instead of user and password).")

    # Alerts: behaviour
    kibana_url_template: str | None = Field(
        None,
        description="Link to a story in search, e.g. http://localhost:5601/app/discover#/?_a=(query:(language:kuery,query:'_id:\"{story_id}\"')); default with WIREWATCH_KIBANA_URL: the story in its rule's saved search.",
    )
    retry_horizon_seconds: float = Field(900.0, gt=0, description="How long a failing delivery is retried before it is parked.")
    templates_dir: Path | None = Field(None, description="Folder whose Jinja2 templates override the built-in alert templates.")
    alerts_tick_seconds: float = Field(2.0, gt=0, description="How often workers look for due digests, flood summaries and deliveries to retry.")
    alerts_retry_initial_seconds: float = Field(2.0, gt=0, description="First wait before retrying a failed delivery (doubles each time, with jitter).")
    alerts_retry_max_seconds: float = Field(120.0, gt=0, description="Longest wait between two delivery attempts.")
    alerts_concurrency: int = Field(8, ge=1, description="Most deliveries in flight at once per channel type (email, Slack, ...).")
    alerts_digest_max_items: int = Field(50, ge=1, description="Most stories listed in one digest or flood summary; the rest are counted.")
    alerts_memory_days: float = Field(30.0, gt=0, description="How long the alert stage remembers what it sent, to never alert twice for one rule and story.")

    def as_env(self) -> dict[str, str]:
        """These settings as the WIREWATCH_* variables that give them (secrets revealed): for child processes."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if hasattr(value, "get_secret_value"):
                value = value.get_secret_value()
            env[f"WIREWATCH_{name.upper()}"] = str(value)
        return env

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    @property
    def stories_topic(self) -> str:
        return self.topic("stories")

    @property
    def matched_topic(self) -> str:
        return self.topic("matched")

    @property
    def matches_topic(self) -> str:
        return self.topic("matches")

    @property
    def rules_topic(self) -> str:
        return self.topic("rules")

    @property
    def alerts_topic(self) -> str:
        return self.topic("alerts")

    @property
    def deadletter_topic(self) -> str:
        return self.topic("deadletter")

    @property
    def alerts_ticks_topic(self) -> str:
        # Clock ticks for the alert stage: co-partitioned with the matches and
        # alerts topics so a tick reaches the worker that owns the state.
        return self.topic("alerts-ticks")


def load(**overrides) -> Settings:
    """Build settings from the environment, turning mistakes into a ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"WIREWATCH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"bad configuration: {problems}") from exc
