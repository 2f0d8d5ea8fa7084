"""A process's HTTP endpoint (a worker's, ingest's): /metrics, /healthz, /readyz and /status on one port.

It runs on the worker's own event loop, so /healthz answering means the
loop is turning, and a scrape reads the stages' counts between two
batches, never half-way through one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger("wirewatch.endpoint")

Check = Callable[[], Awaitable[tuple[bool, str]]]


class Exposed(Protocol):
    """What a process serves: its series in Prometheus' text format, and a status for people."""

    def exposition(self) -> bytes: ...

    def status(self) -> dict[str, Any]: ...


@dataclass
class Readiness:
    """Named checks, each answering (ok, detail); ready when all are ok."""

    checks: dict[str, Check] = field(default_factory=dict)
    last: bool = False

    async def run(self) -> tuple[bool, dict[str, dict]]:
        results: dict[str, dict] = {}
        for name, check in self.checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:  # noqa: BLE001 - a failing check is a not-ready answer, not a crash
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
        self.last = all(r["ok"] for r in results.values())
        return self.last, results


class Endpoint:
    def __init__(self, metrics: Exposed, readiness: Readiness, host: str, port: int,
                 setting: str = "WIREWATCH_METRICS_PORT") -> None:
        self.setting = setting  # named when the port is taken
        self.metrics = metrics
        self.readiness = readiness
        self.host = host
        self.port = port
        self._runner = None

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/status", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            # The pipeline matters more than its window: keep working, say so loudly.
            log.error("metrics and health NOT served: cannot listen on %s:%d (%s); set %s "
                      "to a free port (each process on a host needs its own) or 0", self.host, self.port, exc, self.setting)
            await self.stop()
            return
        log.info("metrics and health on http://%s:%d (/metrics /healthz /readyz /status)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request):
        from aiohttp import web

        # Readiness is a gauge too; its checks are cheap or cached.
        await self.readiness.run()
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request):
        from aiohttp import web

        return web.json_response({"alive": True})

    async def _readyz(self, request):
        from aiohttp import web

        ok, results = await self.readiness.run()
        return web.json_response({"ready": ok, "checks": results}, status=200 if ok else 503)

    async def _status(self, request):
        from aiohttp import web

        await self.readiness.run()
        return web.json_response(self.metrics.status(), dumps=lambda o: json.dumps(o, default=str))


def cached(check: Check, seconds: float, clock: Callable[[], float] = time.monotonic) -> Check:
    """`check`, asked at most every `seconds` (a ping of Elasticsearch per scrape is more than needed)."""
    state: dict = {"at": float("-inf"), "value": (False, "not checked yet")}

    async def run() -> tuple[bool, str]:
        if clock() - state["at"] >= seconds:
            state["value"] = await check()
            state["at"] = clock()
        return state["value"]

    return run
