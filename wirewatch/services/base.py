"""What every local service provides to `wirewatch services`, and the folder they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..settings import Settings
from .endpoints import Endpoint


class Reporter(Protocol):
    """Where progress goes: the CLI draws spinners, tests and fixtures stay quiet."""

    def step(self, service: str, text: str) -> None: ...

    def note(self, text: str) -> None: ...


class Quiet:
    def step(self, service: str, text: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@dataclass(frozen=True)
class Layout:
    """Everything lives under one folder, WIREWATCH_HOME."""

    home: Path

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        # Absolute, because the path ends up in server command lines and
        # configs that outlive the current directory.
        return cls(settings.home.expanduser().resolve())

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def maven_log(self) -> Path:
        return self.logs / "maven.log"

    def state(self, name: str) -> Path:
        return self.run / f"{name}.json"


@dataclass
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path  # where stdout/stderr go
    marker: str  # a string only this server's command line holds
    user: tuple[int, int] | None = None
    version: str = ""
    ports: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    ok: bool
    text: str


class Service(ABC):
    name: str  # "kafka"
    title: str  # "Kafka"
    variable: str  # the setting that names its address
    main_port: str  # what its main port is called

    def __init__(self, settings: Settings, layout: Layout) -> None:
        self.settings = settings
        self.layout = layout

    @property
    @abstractmethod
    def endpoint(self) -> Endpoint: ...

    @property
    @abstractmethod
    def root(self) -> Path:
        """Its folder under WIREWATCH_HOME."""

    @property
    @abstractmethod
    def log(self) -> Path:
        """The server's own log, the one to read when it misbehaves."""

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def console_log(self) -> Path:
        """Its stdout and stderr (JVM start-up errors land here)."""
        return self.logs / "console.log"

    @property
    def state_path(self) -> Path:
        return self.layout.state(self.name)

    @property
    def address(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}"

    def ports(self) -> list[tuple[str, int]]:
        return self.endpoint.ports(self.main_port)

    @abstractmethod
    def prepare(self, reporter: Reporter) -> LaunchSpec:
        """Fetch, unpack and configure (each only when needed) and say how to start it."""

    @abstractmethod
    def probe(self) -> Health:
        """One quick readiness check of whatever listens at the endpoint."""

    @abstractmethod
    def purge(self) -> list[Path]:
        """Delete its data, logs and unpacked files (not Maven's cache); return what was removed."""
