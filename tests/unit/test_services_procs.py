"""Starting, recognising and stopping background servers, with real processes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from wirewatch.services import procs
from support.poll import wait_for

SLEEPER = "import sys, time; time.sleep(120)"


def start(tmp_path: Path, code: str, marker: str) -> procs.Launched:
    pid = procs.launch(
        [sys.executable, "-c", code, marker], env=dict(os.environ), cwd=tmp_path, log=tmp_path / "out.log"
    )
    return procs.Launched(pid=pid, marker=marker, log=str(tmp_path / "out.log"))


def test_state_round_trips_through_its_file(tmp_path: Path):
    state = procs.Launched(pid=42, marker="m", log="l", ports={"http": 1}, started_at=1.5, version="9")
    procs.write_state(tmp_path / "run" / "x.json", state)
    assert procs.read_state(tmp_path / "run" / "x.json") == state
    (tmp_path / "bad.json").write_text("{not json")
    assert procs.read_state(tmp_path / "bad.json") is None
    assert procs.read_state(tmp_path / "missing.json") is None


def test_a_pid_counts_as_ours_only_while_its_command_line_has_the_marker(tmp_path: Path):
    state = start(tmp_path, SLEEPER, f"marker-{tmp_path.name}")
    try:
        assert procs.is_running(state)
        # Same pid, other marker: a reused pid is not taken for our server.
        assert not procs.is_running(procs.Launched(pid=state.pid, marker="something-else", log=""))
        assert not procs.is_running(procs.Launched(pid=os.getpid(), marker="not-in-pytest-argv-xyz", log=""))
    finally:
        procs.stop(state.pid, timeout=5)
    assert not procs.is_running(state)


def test_stop_ends_the_whole_process_group_on_sigterm(tmp_path: Path):
    # A parent that forks a child, as Elasticsearch's launcher does.
    code = (
        "import subprocess, sys, time;"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
        "open(sys.argv[2], 'w').write(str(child.pid)); time.sleep(120)"
    )
    child_file = tmp_path / "child.pid"
    pid = procs.launch(
        [sys.executable, "-c", code, "group-test", str(child_file)], env=dict(os.environ), cwd=tmp_path, log=tmp_path / "o.log"
    )
    wait_for(lambda: child_file.exists() and child_file.read_text(), timeout=10, interval=0.05, what="the child to start")
    child = int(child_file.read_text())
    assert procs.stop(pid, timeout=10) is True
    assert not procs.group_exists(pid)
    assert procs.command_line(child) == ""


def test_stop_kills_what_ignores_sigterm_after_the_timeout(tmp_path: Path):
    code = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(sys.argv[2], 'w').write('armed'); time.sleep(120)"
    armed = tmp_path / "armed"
    pid = procs.launch([sys.executable, "-c", code, "stubborn", str(armed)], env=dict(os.environ), cwd=tmp_path, log=tmp_path / "o.log")
    wait_for(armed.exists, timeout=10, interval=0.05, what="the SIGTERM handler to be set")
    started = time.monotonic()
    assert procs.stop(pid, timeout=1) is False
    assert time.monotonic() - started < 10
    assert not procs.group_exists(pid)


def test_output_goes_to_the_log(tmp_path: Path):
    state = start(tmp_path, "print('hello from the server', flush=True)", "printer")
    wait_for(lambda: "hello from the server" in (tmp_path / "out.log").read_text(), timeout=10, interval=0.05, what="the output")
    procs.stop(state.pid, timeout=5)
