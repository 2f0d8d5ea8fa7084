"""Where the local services listen, read from the same settings the clients use.

The broker's port comes from WIREWATCH_KAFKA_BOOTSTRAP and Elasticsearch's
from WIREWATCH_ES_URL, so a client configured for the services finds them
with no second setting.  The other ports each needs are derived from those.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ConfigError


@dataclass(frozen=True)
class Endpoint:
    """A service's main address plus the extra ports it binds."""

    host: str  # as the clients name it (advertised to Kafka clients)
    port: int
    extra_ports: tuple[tuple[str, int], ...] = ()  # (what, port)

    @property
    def bind_host(self) -> str:
        return "127.0.0.1" if self.host == "localhost" else self.host

    @property
    def is_local(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            return False
        # Only IPv4 loopback: the services bind 127.x, and ::1 would need a v6 listener.
        return address.version == 4 and address.is_loopback

    def ports(self, main: str) -> list[tuple[str, int]]:
        return [(main, self.port), *self.extra_ports]


def _check_port(port: int, variable: str) -> int:
    if not 1 <= port <= 65535:
        raise ConfigError(f"{variable}: port {port} is out of range")
    return port


def kafka_endpoint(bootstrap: str) -> Endpoint:
    """The first server of the bootstrap list; the controller listens on the next port."""
    first = bootstrap.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    host, sep, port = first.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"WIREWATCH_KAFKA_BOOTSTRAP: {first!r} is not host:port")
    number = _check_port(int(port), "WIREWATCH_KAFKA_BOOTSTRAP")
    controller = _check_port(number + 1, "WIREWATCH_KAFKA_BOOTSTRAP (controller port = broker port + 1)")
    return Endpoint(host.strip("[]"), number, (("controller", controller),))


def es_endpoint(url: str) -> Endpoint:
    """The first URL; the node's transport port is the HTTP port + 100 (9200 -> 9300)."""
    first = url.split(",")[0].strip()
    parts = urlsplit(first)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"WIREWATCH_ES_URL: {first!r} is not an http:// URL")
    try:
        number = parts.port or 9200
    except ValueError as exc:
        raise ConfigError(f"WIREWATCH_ES_URL: {first!r} has a bad port") from exc
    transport = _check_port(number + 100, "WIREWATCH_ES_URL (transport port = HTTP port + 100)")
    endpoint = Endpoint(parts.hostname, _check_port(number, "WIREWATCH_ES_URL"), (("transport", transport),))
    if parts.scheme == "https" and endpoint.is_local:
        raise ConfigError("WIREWATCH_ES_URL: the local Elasticsearch speaks plain http, not https")
    return endpoint


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on host:port (so our server could not bind it).

    SO_REUSEADDR lets the probe ignore connections lingering in TIME_WAIT
    while still failing against a live listener, which is what a server's
    own bind would do.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listener(port: int) -> str | None:
    """'name (pid N)' of the program listening on a TCP port, when `ss` can tell."""
    ss = shutil.which("ss")
    if not ss:
        return None
    try:
        done = subprocess.run([ss, "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', done.stdout)
    return f"{match.group(1)} (pid {match.group(2)})" if match else None
