"""Start a server in the background, remember it, find it again, stop it.

Each server runs in its own session (process group), so stopping it reaches
the children it forks (Elasticsearch's launcher starts the real node as a
child).  A small JSON state file per service records the group leader's pid
and a marker string from its command line; a pid only counts as ours while
its command line still holds the marker, so a pid reused by an unrelated
program after a reboot is never signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import LocalServiceError


@dataclass
class Launched:
    pid: int
    marker: str
    log: str
    ports: dict[str, int] = field(default_factory=dict)
    started_at: float = 0.0
    version: str = ""


def read_state(path: Path) -> Launched | None:
    try:
        data = json.loads(path.read_text())
        return Launched(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(path: Path, state: Launched) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _reap(pid: int) -> None:
    # A server started by this very process (as in a test session) stays a
    # zombie until waited for; zombies still count as existing for kill(0).
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone counts the same
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def is_running(state: Launched | None) -> bool:
    if state is None:
        return False
    _reap(state.pid)
    # During exec the new command line is briefly empty (Popen returns
    # before the kernel has set it up), so an empty one is read again;
    # a zombie's stays empty and fails the marker test, as it should.
    deadline = time.monotonic() + 2.0
    while True:
        line = command_line(state.pid)
        if line or _is_zombie(state.pid) or time.monotonic() >= deadline:
            return state.marker in line
        time.sleep(0.01)


def launch(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log: Path,
    user: tuple[int, int] | None = None,
) -> int:
    """Start argv detached from the terminal with stdout/stderr in log (begun afresh); return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        if user:
            os.chown(log, *user)
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user[0] if user else None,
                group=user[1] if user else None,
                extra_groups=[] if user else None,
            )
        except OSError as exc:
            raise LocalServiceError(f"cannot start {argv[0]}: {exc}") from exc
    return process.pid


def group_exists(pgid: int) -> bool:
    _reap(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(pid: int, timeout: float) -> bool:
    """SIGTERM the process group, wait up to timeout, then SIGKILL it.

    Returns True when it stopped on SIGTERM, False when it had to be killed.
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_exists(pid):
            return True
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 10
    while group_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return False
