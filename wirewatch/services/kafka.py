"""A one-node Kafka (KRaft: broker and controller in one JVM) from Maven jars.

The broker's class path is `kafka-pom.xml` resolved by Maven; storage is
formatted once with a fresh cluster id as a standalone (dynamic-quorum)
controller, and the configuration is rewritten on every start so it always
matches the settings.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

from ..errors import LocalServiceError
from . import jdk, maven
from .base import Health, LaunchSpec, Reporter, Service
from .endpoints import Endpoint, answers, kafka_endpoint
from .files import remove_tree, tail, write_text

MIN_JAVA = 17
HEAP_OPTS = ["-Xms256m", "-Xmx1g"]


def pom_text() -> str:
    return resources.files(__package__).joinpath("kafka-pom.xml").read_text()


def log4j2_text() -> str:
    return resources.files(__package__).joinpath("kafka-log4j2.xml").read_text()


def kafka_version(pom: str) -> str:
    start = pom.index("<kafka.version>") + len("<kafka.version>")
    return pom[start : pom.index("</kafka.version>", start)]


def cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Kafka's own generator avoids ids starting with "-" (they read as command-line flags).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def server_properties(endpoint: Endpoint, data_dir: Path, partitions: int) -> dict[str, str]:
    broker = endpoint.port
    controller = dict(endpoint.extra_ports)["controller"]
    bind = endpoint.bind_host
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{bind}:{controller}",
        "listeners": f"PLAINTEXT://{bind}:{broker},CONTROLLER://{bind}:{controller}",
        # Clients are sent back the host exactly as WIREWATCH_KAFKA_BOOTSTRAP names it.
        "advertised.listeners": f"PLAINTEXT://{endpoint.host}:{broker},CONTROLLER://{bind}:{controller}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": str(partitions),
        # One broker: every internal topic can only have one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests and demos start a consumer group and want it working at once, not after 3 s.
        "group.initial.rebalance.delay.ms": "0",
    }


def properties_text(values: Mapping[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n")

    lines = ["# Written by `wirewatch services up` on every start; edits here are overwritten."]
    lines += [f"{key}={escape(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    # kafka-python logs every refused connection at WARNING; while polling a
    # starting broker those are expected and would scroll over the spinner.
    logger = logging.getLogger(logger_name)
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def probe_kafka(host: str, port: int, timeout_s: float = 3.0) -> Health:
    """Whether a Kafka broker at host:port answers an admin request."""
    if not answers(host, port):
        return Health(False, "not listening")
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    with _quiet("kafka"):
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=f"{host}:{port}",
                client_id="wirewatch-services",
                request_timeout_ms=int(timeout_s * 1000),
                bootstrap_timeout_ms=int(timeout_s * 1000),
            )
        except (KafkaError, OSError) as exc:
            return Health(False, f"not answering ({type(exc).__name__})")
        try:
            cluster = admin.describe_cluster()
        except (KafkaError, OSError) as exc:
            return Health(False, f"not answering ({type(exc).__name__})")
        finally:
            admin.close()
    brokers = [b for b in cluster.get("brokers", []) if not b.get("is_fenced")]
    if not brokers:
        return Health(False, "no broker ready yet")
    return Health(True, f"ok, {len(brokers)} broker{'s' if len(brokers) > 1 else ''}")


class Kafka(Service):
    name = "kafka"
    title = "Kafka"
    variable = "WIREWATCH_KAFKA_BOOTSTRAP"
    main_port = "broker"

    @property
    def endpoint(self) -> Endpoint:
        return kafka_endpoint(self.settings.kafka_bootstrap)

    @property
    def root(self) -> Path:
        return self.layout.home / "kafka"

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def log(self) -> Path:
        return self.logs / "server.log"

    @property
    def config(self) -> Path:
        return self.root / "config" / "server.properties"

    def probe(self) -> Health:
        return probe_kafka(self.endpoint.bind_host, self.endpoint.port)

    def purge(self) -> list[Path]:
        if not self.root.exists():
            return []
        remove_tree(self.root)
        return [self.root]

    def fetch(self, reporter: Reporter) -> str:
        """Copy the broker's jars into lib/ unless the same pom already did; return the Kafka version."""
        pom = pom_text()
        version = kafka_version(pom)
        digest = hashlib.sha256(pom.encode()).hexdigest()
        stamp = self.lib / ".pom-sha256"
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return version
        reporter.step(self.name, f"fetching Kafka {version} with Maven")
        remove_tree(self.lib)
        pom_file = self.root / "pom.xml"
        write_text(pom_file, pom)
        maven.copy_dependencies(pom_file, self.lib, self.layout.maven_log)
        # Written last: a fetch cut short is redone next time.
        stamp.write_text(digest + "\n")
        return version

    def java(self) -> Path:
        return jdk.java_home(MIN_JAVA, os.environ, ("JAVA_HOME",)) / "bin" / "java"

    def format_storage(self, java: Path, reporter: Reporter) -> None:
        if (self.data / "meta.properties").exists():
            return
        reporter.step(self.name, "formatting storage")
        self.data.mkdir(parents=True, exist_ok=True)
        out = self.logs / "format.log"
        with out.open("w") as handle:
            done = subprocess.run(
                [
                    str(java), *self._java_options(), "-cp", self._classpath(),
                    "kafka.tools.StorageTool", "format", "--standalone", "--ignore-formatted",
                    "--cluster-id", cluster_id(), "--config", str(self.config),
                ],
                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root,
            )  # fmt: skip
        if done.returncode != 0:
            raise LocalServiceError(f"formatting Kafka's storage failed; see {out}:\n{tail(out)}")

    def _classpath(self) -> str:
        return f"{self.lib}/*"

    def _java_options(self) -> list[str]:
        return [
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.config.parent / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.logs}",
        ]

    def prepare(self, reporter: Reporter) -> LaunchSpec:
        version = self.fetch(reporter)
        java = self.java()
        self.logs.mkdir(parents=True, exist_ok=True)
        endpoint = self.endpoint
        write_text(self.config, properties_text(server_properties(endpoint, self.data, self.settings.partitions)))
        write_text(self.config.parent / "log4j2.xml", log4j2_text())
        self.format_storage(java, reporter)
        argv = [
            str(java), *HEAP_OPTS, "-XX:+UseG1GC", *self._java_options(),
            "-cp", self._classpath(), "kafka.Kafka", str(self.config),
        ]  # fmt: skip
        return LaunchSpec(
            argv=argv,
            env=dict(os.environ),
            cwd=self.root,
            log=self.console_log,
            marker=str(self.config),
            version=version,
            ports=dict(endpoint.ports(self.main_port)),
        )
