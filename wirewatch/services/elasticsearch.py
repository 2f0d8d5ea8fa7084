"""A single-node Elasticsearch from the integration-test distribution on Maven Central.

That zip is the plain server with only a few modules (no analysis-common,
percolator or ingest-geoip, and no `GET /` banner), which is all WireWatch
uses.  It needs Java 21+, and it refuses to run as root, so under root it
runs as a dedicated system user that owns its files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from ..errors import LocalServiceError
from . import jdk, maven
from .base import Health, LaunchSpec, Reporter, Service
from .endpoints import Endpoint, es_endpoint
from .files import chown_tree, remove_tree, unzip, write_text
from .runas import Account, first_blocking, run_as

# The newest 9.x whose integ-test zip was tried and runs here on Temurin 25;
# docker-compose.yml uses the same version of the official images.
VERSION = "9.5.3"
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{VERSION}:zip"
MIN_JAVA = 21
# Where Elasticsearch's files go when its user cannot reach WIREWATCH_HOME
# (e.g. a checkout under /root, whose mode is 700).
FALLBACK_ROOT = Path("/var/lib/wirewatch")


def es_config(endpoint: Endpoint, data: Path, logs: Path, has_security: bool) -> dict[str, object]:
    config: dict[str, object] = {
        "cluster.name": "wirewatch",
        "node.name": "wirewatch-local",
        "path.data": str(data),
        "path.logs": str(logs),
        # Loopback only, which also keeps Elasticsearch in development mode
        # (its production bootstrap checks, e.g. vm.max_map_count, stay warnings).
        "network.host": endpoint.bind_host,
        "http.port": endpoint.port,
        "transport.port": dict(endpoint.extra_ports)["transport"],
        "discovery.type": "single-node",
        # A nearly full developer disk must not turn indices read-only mid-test.
        "cluster.routing.allocation.disk.threshold_enabled": False,
    }
    if has_security:
        # The setting exists only where the security module is installed; elsewhere it is an error.
        config["xpack.security.enabled"] = False
    return config


def config_text(config: dict[str, object]) -> str:
    header = "# Written by `wirewatch services up` on every start; edits here are overwritten.\n"
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def jvm_options_text(heap: str) -> str:
    return f"# Written by `wirewatch services up` (WIREWATCH_ES_HEAP).\n-Xms{heap}\n-Xmx{heap}\n"


def probe_es(host: str, port: int, timeout_s: float = 3.0) -> Health:
    """Whether Elasticsearch at host:port reports a yellow or green cluster."""
    url = f"http://{host}:{port}/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        # 408: it answered but the cluster did not reach yellow in time.
        return Health(False, f"answers with HTTP {exc.code}")
    except (OSError, ValueError):
        return Health(False, "not answering")
    status = body.get("status", "?") if isinstance(body, dict) else "?"
    return Health(status in ("yellow", "green"), status)


class Elasticsearch(Service):
    name = "elasticsearch"
    title = "Elasticsearch"
    variable = "WIREWATCH_ES_URL"
    main_port = "http"

    @property
    def endpoint(self) -> Endpoint:
        return es_endpoint(self.settings.es_url)

    @property
    def link(self) -> Path:
        return self.layout.home / "elasticsearch"

    @property
    def root(self) -> Path:
        # Resolved, since the folder may be a link to FALLBACK_ROOT.
        return self.link.resolve()

    @property
    def dist(self) -> Path:
        return self.root / f"elasticsearch-{VERSION}"

    @property
    def log(self) -> Path:
        return self.logs / "wirewatch.log"  # named after cluster.name

    def probe(self) -> Health:
        return probe_es(self.endpoint.bind_host, self.endpoint.port)

    def purge(self) -> list[Path]:
        removed = []
        if self.link.is_symlink():
            target = self.root
            remove_tree(target)
            self.link.unlink()
            removed.append(target)
        elif self.link.exists():
            remove_tree(self.link)
            removed.append(self.link)
        return removed

    def place(self, who: Account | None, reporter: Reporter) -> None:
        """Make the service's folder, somewhere `who` can reach."""
        if self.link.is_symlink():
            self.root.mkdir(parents=True, exist_ok=True)
            return
        blocked = first_blocking(self.link, who) if who else None
        if blocked is None:
            self.link.mkdir(parents=True, exist_ok=True)
            return
        target = FALLBACK_ROOT / f"es-{hashlib.sha256(str(self.layout.home).encode()).hexdigest()[:12]}"
        target.mkdir(parents=True, exist_ok=True)
        FALLBACK_ROOT.chmod(0o755)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        self.link.symlink_to(target, target_is_directory=True)
        reporter.note(
            f"user {who.name} cannot enter {blocked}, so Elasticsearch's files live in {target} (linked from {self.link})"
        )

    def fetch(self, who: Account | None, reporter: Reporter) -> None:
        if self.dist.is_dir():
            return
        reporter.step(self.name, f"fetching Elasticsearch {VERSION} with Maven")
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".fetch-") as scratch:
            scratch_dir = Path(scratch)
            maven.copy_artifact(ARTIFACT, scratch_dir, self.layout.maven_log)
            reporter.step(self.name, f"unpacking Elasticsearch {VERSION}")
            unzip(scratch_dir / f"elasticsearch-{VERSION}.zip", scratch_dir / "unpacked")
            unpacked = scratch_dir / "unpacked" / f"elasticsearch-{VERSION}"
            if not (unpacked / "bin" / "elasticsearch").is_file():
                raise LocalServiceError(f"{ARTIFACT} does not hold elasticsearch-{VERSION}/bin/elasticsearch")
            if who:
                chown_tree(unpacked, who.uid, who.gid)
            # Renamed whole, so a half-unpacked distribution is never taken for a finished one.
            unpacked.rename(self.dist)

    def prepare(self, reporter: Reporter) -> LaunchSpec:
        who = run_as()
        self.place(who, reporter)
        self.fetch(who, reporter)
        owner = (who.uid, who.gid) if who else None
        for folder in (self.data, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
            if owner:
                os.chown(folder, *owner)
        if owner:
            # Stray root-owned files (from an older run) would stop it starting.
            chown_tree(self.dist / "config", *owner)
        endpoint = self.endpoint
        has_security = (self.dist / "modules" / "x-pack-security").is_dir()
        config = es_config(endpoint, self.data, self.logs, has_security)
        write_text(self.dist / "config" / "elasticsearch.yml", config_text(config), owner)
        write_text(self.dist / "config" / "jvm.options.d" / "wirewatch.options", jvm_options_text(self.settings.es_heap), owner)
        java_home = jdk.java_home(MIN_JAVA, os.environ, ("ES_JAVA_HOME",), use_path=True)
        env = dict(os.environ)
        env["ES_JAVA_HOME"] = str(java_home)
        if who:
            env["HOME"] = str(self.root)
            env["USER"] = env["LOGNAME"] = who.name
        return LaunchSpec(
            argv=[str(self.dist / "bin" / "elasticsearch")],
            env=env,
            cwd=self.dist,
            log=self.console_log,
            marker=str(self.dist),
            user=owner,
            version=VERSION,
            ports=dict(endpoint.ports(self.main_port)),
        )
