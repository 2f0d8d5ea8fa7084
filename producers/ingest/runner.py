"""Run every source of a sources file until stopped: the one long-running `wirewatch ingest` process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

from wirewatch.errors import ConfigError
from wirewatch.settings import Settings

from .config import FeedSource, FolderSource, PushSource, SourcesFile
from .intake import Counters, Intake
from .state import State

log = logging.getLogger("wirewatch.ingest")
# Items a feed has not listed for this long are forgotten (feeds keep days, not months).
FORGET_AFTER_S = 90 * 86400
RECONNECT_S = 5.0


def state_dir(settings: Settings) -> Path:
    return settings.home.expanduser() / "ingest"


def status_path(folder: Path) -> Path:
    return folder / "status.json"


class Ingest:
    def __init__(self, sources: SourcesFile, settings: Settings, folder: Path | None = None) -> None:
        self.sources = sources
        self.settings = settings
        self.folder = folder or state_dir(settings)
        self.topic = sources.topic or settings.stories_topic
        self.counters = {s.name: Counters(s.kind) for s in sources.sources}
        self.endpoints: dict[str, str] = {}
        self.sender = None  # the Sender, made by run()
        self.started = time.time()
        self.stop = asyncio.Event()
        token = settings.ingest_token.get_secret_value() if settings.ingest_token else None
        for s in sources.by_kind("push"):
            if token is None and not s.allow_anonymous:
                raise ConfigError(
                    f"push source {s.name!r}: set WIREWATCH_INGEST_TOKEN (the bearer token senders must give), "
                    "or `allow_anonymous: true` in the sources file"
                )
        self.token = token

    def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.time(),
            "topic": self.topic,
            "kafka": "up" if self.sender.up else f"down: {self.sender.problem}",
            "endpoints": self.endpoints,
            "sources": {name: c.to_dict() for name, c in self.counters.items()},
            "running": not self.stop.is_set(),
        }

    def kafka_up(self) -> bool:
        return self.sender is not None and self.sender.up

    async def _serve_metrics(self):
        """/metrics, /healthz, /readyz and /status on WIREWATCH_INGEST_METRICS_PORT (None when 0)."""
        if not self.settings.ingest_metrics_port:
            return None
        from wirewatch.pipeline.endpoint import Endpoint, Readiness

        from .metrics import IngestMetrics

        async def kafka() -> tuple[bool, str]:
            return (True, "producer connected") if self.kafka_up() else (False, self.sender.problem if self.sender else "not started")

        endpoint = Endpoint(IngestMetrics(self), Readiness({"kafka": kafka}), self.settings.metrics_host,
                            self.settings.ingest_metrics_port, setting="WIREWATCH_INGEST_METRICS_PORT")
        await endpoint.start()
        return endpoint

    def write_status(self) -> None:
        path = status_path(self.folder)
        part = path.with_name(path.name + ".tmp")
        part.write_text(json.dumps(self.status(), indent=1, default=str), encoding="utf-8")
        os.replace(part, path)

    async def run(self) -> None:
        import aiohttp
        from aiohttp import web

        from . import feedpoll, folder, push
        from .sender import Sender

        self.folder.mkdir(parents=True, exist_ok=True)
        lock = _lock(self.folder)
        state = State(self.folder / "state.sqlite")
        forgotten = state.forget_older_than(FORGET_AFTER_S)
        if forgotten:
            log.info("forgot %d items not seen for %d days", forgotten, FORGET_AFTER_S // 86400)
        self.sender = Sender(self.settings, self.topic)
        intake = Intake(state, self.sender)
        sites: list[web.AppRunner] = []
        tasks: list[asyncio.Task] = []
        reconnect: asyncio.Task | None = None
        endpoint = None
        session = aiohttp.ClientSession(auto_decompress=True, raise_for_status=False)
        try:
            endpoint = await self._serve_metrics()
            for s in self.sources.by_kind("push"):
                runner = web.AppRunner(push.app(s, intake, self.counters[s.name], self.token, self.status),
                                       access_log=None, shutdown_timeout=self.settings.delivery_timeout_seconds)
                await runner.setup()
                site = web.TCPSite(runner, s.host, s.port)
                try:
                    await site.start()
                except OSError as exc:
                    raise ConfigError(f"push source {s.name!r}: cannot listen on {s.host}:{s.port}: {exc.strerror or exc}") from exc
                port = runner.addresses[0][1]
                self.endpoints[s.name] = f"http://{s.host}:{port}"
                sites.append(runner)
                log.info("%s: accepting POST %s/stories%s", s.name, self.endpoints[s.name],
                         "" if self.token else " (anyone may post: no token)")
            for s in self.sources.sources:
                if isinstance(s, FeedSource):
                    tasks.append(asyncio.create_task(feedpoll.run(s, session, intake, self.counters[s.name], self.stop), name=s.name))
                elif isinstance(s, FolderSource):
                    tasks.append(asyncio.create_task(folder.run(s, intake, self.counters[s.name], self.stop), name=s.name))
            reconnect = asyncio.create_task(self._reconnect(), name="kafka")
            tasks.append(asyncio.create_task(self._report(), name="status"))
            log.info("ingest running %d sources to %s (state in %s)", len(self.sources.sources), self.topic, self.folder)
            self.write_status()
            await self.stop.wait()
            log.info("stopping: no new work; waiting for sends in flight")
            reconnect.cancel()  # a connection attempt under way is not worth waiting for
            for runner in sites:
                await runner.cleanup()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in [*tasks, reconnect]:
                if task is not None:
                    task.cancel()
            for runner in sites:
                await runner.cleanup()  # again is harmless; needed when start-up failed half-way
            if endpoint is not None:
                await endpoint.stop()
            await session.close()
            await asyncio.to_thread(self.sender.close)
            self.write_status()
            state.close()
            lock.close()
            self._log_counters()
            log.info("ingest stopped")

    async def _reconnect(self) -> None:
        # Push sources answer 503 meanwhile; feeds and folders wait for it (Intake.ready).
        while not self.stop.is_set():
            if not self.sender.up and not await self.sender.connect():
                log.error("%s; trying again in %g s", self.sender.unavailable(), RECONNECT_S)
            await _wait(self.stop, RECONNECT_S)

    async def _report(self) -> None:
        last_log = time.monotonic()
        while not self.stop.is_set():
            await _wait(self.stop, min(2.0, self.sources.status_every))
            if self.stop.is_set():
                break  # the last status and counters are written on the way out
            self.write_status()
            if time.monotonic() - last_log >= self.sources.status_every:
                self._log_counters()
                last_log = time.monotonic()

    def _log_counters(self) -> None:
        for name, c in self.counters.items():
            ago = f"{time.time() - c.last_success:.0f} s ago" if c.last_success else "never"
            nxt = f", next in {max(0, c.next_poll - time.time()):.0f} s" if c.next_poll and not self.stop.is_set() else ""
            log.info("%s (%s): fetched %d, new %d, updated %d, unchanged %d, failed %d, last success %s%s",
                     name, c.kind, c.fetched, c.new, c.updated, c.unchanged, c.failed, ago, nxt)


def _lock(folder: Path):
    """Hold the state folder for this process: two ingests on one state would send everything twice."""
    import fcntl

    fh = open(folder / "lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        other = fh.read().strip() or "?"
        fh.close()
        raise ConfigError(
            f"another `wirewatch ingest` (pid {other}) is running with the state in {folder}; "
            "stop it first, or give this one a state folder of its own (--state)"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except asyncio.TimeoutError:
        pass
