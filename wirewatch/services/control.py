"""`up`, `down` and `status` over the local services.

`up` is safe to repeat: a service this folder already runs is only checked,
one that died is restarted, and a port held by some other program is
reported (or, with `use_existing`, used when a Kafka or Elasticsearch
answers there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LocalServiceError
from ..settings import Settings
from . import procs
from .base import Health, Layout, Quiet, Reporter, Service
from .elasticsearch import Elasticsearch
from .endpoints import listener, port_taken
from .files import tail
from .kafka import Kafka

NAMES = ("kafka", "elasticsearch")
_KINDS: dict[str, type[Service]] = {"kafka": Kafka, "elasticsearch": Elasticsearch}
POLL_S = 0.5


@dataclass
class Report:
    name: str
    title: str
    state: str  # running | stopped | external (answers, not ours) | taken (port busy, no answer)
    address: str
    pid: int | None = None
    health: Health | None = None
    log: Path | None = None
    ports: dict[str, int] = field(default_factory=dict)
    version: str = ""
    started_now: bool = False


def make(settings: Settings, names: tuple[str, ...] = NAMES) -> list[Service]:
    layout = Layout.of(settings)
    unknown = [n for n in names if n not in _KINDS]
    if unknown:
        raise LocalServiceError(f"unknown service {', '.join(unknown)}; known: {', '.join(NAMES)}")
    return [_KINDS[n](settings, layout) for n in names]


def _running(service: Service) -> procs.Launched | None:
    state = procs.read_state(service.state_path)
    if procs.is_running(state):
        return state
    if state is not None:
        service.state_path.unlink(missing_ok=True)  # left by a server that died, or by a reboot
    return None


def _report(service: Service, state: procs.Launched, health: Health | None, started_now: bool = False) -> Report:
    return Report(
        service.name, service.title, "running", service.address, state.pid, health,
        service.log, state.ports, state.version, started_now,
    )  # fmt: skip


def _external(service: Service, health: Health) -> Report:
    return Report(service.name, service.title, "external", service.address, health=health)


def _taken_message(service: Service, taken: list[tuple[str, int]]) -> str:
    parts = []
    for what, port in taken:
        holder = listener(port)
        parts.append(f"{port} ({what}{', held by ' + holder if holder else ''})")
    derived = "the controller uses the broker port + 1" if service.name == "kafka" else "the transport port is the HTTP port + 100"
    return (
        f"{service.title} cannot start: port {', '.join(parts)} on {service.endpoint.bind_host} is already in use "
        f"by another program. Stop it, or set {service.variable} to a free port ({derived})."
    )


def _use_existing(service: Service, reporter: Reporter) -> Report | None:
    health = service.probe()
    if not health.ok:
        return None
    reporter.step(service.name, f"using the {service.title} already answering at {service.address}")
    return _external(service, health)


def up(
    settings: Settings,
    names: tuple[str, ...] = NAMES,
    timeout: float = 180.0,
    use_existing: bool = False,
    reporter: Reporter | None = None,
) -> list[Report]:
    """Start the services that are not running and wait until all of them answer."""
    reporter = reporter or Quiet()
    services = make(settings, names)
    Layout.of(settings).home.mkdir(parents=True, exist_ok=True)
    done: dict[str, Report] = {}
    waiting: dict[str, tuple[Service, procs.Launched, bool]] = {}

    for service in services:
        endpoint = service.endpoint
        state = _running(service)
        if state is not None:
            if state.ports.get(service.main_port) != endpoint.port:
                raise LocalServiceError(
                    f"{service.title} is already running (pid {state.pid}) on port {state.ports.get(service.main_port)}, "
                    f"but {service.variable} names port {endpoint.port}; run `wirewatch services down` first"
                )
            reporter.step(service.name, f"already running (pid {state.pid})")
            waiting[service.name] = (service, state, False)
            continue
        if not endpoint.is_local:
            existing = _use_existing(service, reporter) if use_existing else None
            if existing:
                done[service.name] = existing
                continue
            raise LocalServiceError(
                f"{service.variable} names {service.address}; local services start only on "
                "an IPv4 loopback address (127.0.0.1) or localhost"
            )
        taken = [(what, port) for what, port in service.ports() if port_taken(endpoint.bind_host, port)]
        if taken:
            existing = _use_existing(service, reporter) if use_existing else None
            if existing:
                done[service.name] = existing
                continue
            raise LocalServiceError(_taken_message(service, taken))
        spec = service.prepare(reporter)
        reporter.step(service.name, "starting")
        pid = procs.launch(spec.argv, env=spec.env, cwd=spec.cwd, log=spec.log, user=spec.user)
        state = procs.Launched(pid, spec.marker, str(spec.log), spec.ports, time.time(), spec.version)
        procs.write_state(service.state_path, state)
        waiting[service.name] = (service, state, True)

    deadline = time.monotonic() + timeout
    while waiting:
        for name, (service, state, new) in list(waiting.items()):
            if not procs.is_running(state):
                service.state_path.unlink(missing_ok=True)
                raise LocalServiceError(
                    f"{service.title} stopped while starting; its log is {service.log}. "
                    f"Last lines of its output ({state.log}):\n{tail(Path(state.log))}"
                )
            health = service.probe()
            if health.ok:
                done[name] = _report(service, state, health, new)
                reporter.step(name, f"ready at {service.address} ({health.text})")
                del waiting[name]
            else:
                reporter.step(name, f"waiting for it to answer at {service.address} ({health.text})")
        if waiting and time.monotonic() >= deadline:
            late = " ".join(
                f"{service.title} did not become ready within {timeout:.0f} s; it is still running, "
                f"see {service.log} (and {state.log})."
                for service, state, _ in waiting.values()
            )
            raise LocalServiceError(
                f"{late} `wirewatch services status` shows when it is up; `wirewatch services down` stops it."
            )
        if waiting:
            time.sleep(POLL_S)
    return [done[s.name] for s in services]


def down(
    settings: Settings,
    names: tuple[str, ...] = NAMES,
    timeout: float = 30.0,
    reporter: Reporter | None = None,
    purge: bool = False,
) -> list[Report]:
    """Stop the services this folder started: SIGTERM, then SIGKILL after `timeout` seconds.

    With `purge`, also delete their data, logs and unpacked distributions
    (the next `up` starts empty; Maven's download cache stays).
    """
    reporter = reporter or Quiet()
    reports = []
    for service in make(settings, names):
        state = _running(service)
        if state is None:
            reporter.step(service.name, "not running")
        else:
            reporter.step(service.name, f"stopping (pid {state.pid})")
            clean = procs.stop(state.pid, timeout)
            service.state_path.unlink(missing_ok=True)
            reporter.step(service.name, "stopped" if clean else f"killed: it did not stop within {timeout:.0f} s")
        if purge:
            for path in service.purge():
                reporter.note(f"deleted {path}")
        reports.append(Report(service.name, service.title, "stopped", service.address, log=service.log))
    return reports


def status(settings: Settings, names: tuple[str, ...] = NAMES) -> list[Report]:
    """What runs where: ours (with pid and health), someone else's, or nothing."""
    reports = []
    for service in make(settings, names):
        state = _running(service)
        if state is not None:
            reports.append(_report(service, state, service.probe()))
            continue
        endpoint = service.endpoint
        if not endpoint.is_local:
            reports.append(_external(service, service.probe()))
            continue
        if any(port_taken(endpoint.bind_host, port) for _, port in service.ports()):
            health = service.probe()
            kind = "external" if health.ok else "taken"
            reports.append(Report(service.name, service.title, kind, service.address, health=health))
            continue
        reports.append(Report(service.name, service.title, "stopped", service.address, log=service.log))
    return reports
