"""Run WireWatch commands as real processes, configured by environment like production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from wirewatch.settings import Settings


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update(settings.as_env())
    env.update(extra)
    return env


def run(settings: Settings, *args: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wirewatch", *args],
        env=env_for(settings, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Command:
    """A `wirewatch ARGS` process whose output goes to a log file."""

    def __init__(self, settings: Settings, log: Path, *args: str, **env: str) -> None:
        self.log = log
        self._fh = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", *args],
            env=env_for(settings, **env),
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no chance to commit or flush, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._fh.close()

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, as a person would stop it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._fh.close()
        return self.proc.returncode


class Worker(Command):
    """A `wirewatch worker` process whose output goes to a log file."""

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        super().__init__(settings, log, "worker", *args)
