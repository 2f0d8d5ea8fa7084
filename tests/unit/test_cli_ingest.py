"""`wirewatch ingest` without servers: --help teaches the sources file, --check finds every problem, --status reads the status file."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def wirewatch(*args, home: Path | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env["COLUMNS"] = "200"
    if home:
        env["WIREWATCH_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "wirewatch", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)


def test_help_shows_a_sources_file_with_every_kind():
    out = wirewatch("ingest", "--help").stdout
    for text in ("kind: feed", "kind: folder", "kind: push", "WIREWATCH_INGEST_TOKEN", "--status", "examples/sources.yaml"):
        assert text in out, text


def test_check_lists_the_sources_or_every_problem_with_its_line(tmp_path):
    ok = wirewatch("ingest", "--check", "examples/sources.yaml")
    assert ok.returncode == 0 and "4 sources" in ok.stdout and "dpa-drop: folder" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources:\n  - name: a\n    kind: feed\n    url: ftp://x\n  - {name: b, kind: folder}\n")
    result = wirewatch("ingest", "--check", str(bad))
    assert result.returncode == 2
    err = " ".join(result.stderr.split())
    assert f"{bad}:4: source 'a' url" in err and f"{bad}:5: source 'b' path: Field required" in err


def test_status_reads_the_status_file_of_a_stopped_ingest(tmp_path):
    assert "no ingest has run" in wirewatch("ingest", "--status", home=tmp_path).stderr
    folder = tmp_path / "ingest"
    folder.mkdir()
    now = time.time()
    counters = {"kind": "feed", "fetched": 12, "new": 40, "updated": 2, "unchanged": 400, "failed": 1,
                "last_success": now - 30, "last_error": "HTTP 500 Internal Server Error from http://x/feed",
                "last_error_at": now - 100, "next_poll": now + 200}
    (folder / "status.json").write_text(json.dumps({
        "pid": 999999999, "running": True, "updated": now - 5, "topic": "wirewatch.stories", "kafka": "up",
        "endpoints": {}, "sources": {"guardian": counters},
    }))
    out = wirewatch("ingest", "--status", home=tmp_path).stdout
    assert "ingest not running" in out
    assert "guardian" in out and " 40 " in out and "HTTP 500 Internal Server Error" in out
