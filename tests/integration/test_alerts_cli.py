"""`wirewatch alerts preview | send | smtp-sink`, run as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from support.servers import free_port, slack, smtp  # noqa: F401 - fixtures
from support.poll import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("WIREWATCH_CORPUS_DIR", ROOT / "../shared/corpus"))
SAMPLE = CORPUS / "samples/xi-putin-moscow-visit.txt"


def wirewatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "wirewatch"), *args],
        cwd=ROOT, env={**os.environ, "COLUMNS": "200", **(env or {})}, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def story_file(tmp_path) -> Path:
    if SAMPLE.exists():
        return SAMPLE
    path = tmp_path / "story.txt"
    path.write_text("China's Xi meets Putin next week in Russia\nXi Jinping will fly to Moscow to meet Putin at the Kremlin.\n")
    return path


def rules_file(tmp_path: Path, subscribers: list) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [
        {"id": "xi", "name": "Xi <visit>", "query": "title:(Xi OR Putin) (Moscow OR Kremlin)", "subscribers": subscribers},
    ]}))
    return path


def test_preview_json_needs_no_subscribers(tmp_path, story_file):
    result = wirewatch("alerts", "preview", "--json", "--rules", str(rules_file(tmp_path, [])), "--rule", "xi", str(story_file))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"email", "slack"} and set(data["email"]) == {"subject", "text", "html"}
    assert data["email"]["subject"].startswith("[WireWatch] Xi <visit>: ")
    assert "*Moscow*" in data["email"]["text"]
    assert ">Moscow</mark>" in data["email"]["html"] and "Xi &lt;visit&gt;" in data["email"]["html"]
    assert data["slack"]["blocks"][0]["text"]["text"] == ":rotating_light: *WireWatch · Xi &lt;visit&gt;*"


def test_preview_text_and_a_rule_with_bad_subscribers(tmp_path, story_file):
    rules = rules_file(tmp_path, [{"email": "not-an-address"}])
    result = wirewatch("alerts", "preview", "--rules", str(rules), "--rule", "xi", str(story_file))
    assert result.returncode == 0, result.stderr
    assert "'not-an-address' is not a valid email address" in result.stderr
    for part in ("email: subject", "email: text", "email: HTML", "Slack: Block Kit payload"):
        assert part in result.stdout
    missing = wirewatch("alerts", "preview", "--rules", str(rules), "--rule", "nope", str(story_file))
    assert missing.returncode == 2 and "no rule 'nope'" in missing.stderr


def test_send_delivers_to_every_subscriber_and_reports_failures(tmp_path, story_file, smtp, slack):
    smtp.sink.refuse["gone@example.com"] = "550 no such user"
    rules = rules_file(tmp_path, [
        {"email": "desk@example.com"},
        {"slack_webhook": f"{slack.url}/services/T/B/X"},
        {"slack_channel": "#world"},
        {"email": "gone@example.com"},
    ])
    env = {"WIREWATCH_SMTP_PORT": str(smtp.port), "WIREWATCH_SLACK_API_URL": f"{slack.url}/api/", "WIREWATCH_SLACK_BOT_TOKEN": "xoxb-t"}
    result = wirewatch("alerts", "send", "--rules", str(rules), "--rule", "xi", "--timeout", "2", str(story_file), env=env)
    assert result.returncode == 1
    assert "ok email desk@example.com: sent (1 attempt)" in result.stderr
    assert "ok slack_channel #world" in result.stderr
    assert "failed email gone@example.com" in result.stderr and "550" in result.stderr
    assert "hooks" not in result.stderr and "/services/T/B/X" not in result.stderr  # the webhook secret stays hidden
    [mail] = smtp.messages
    assert mail["To"] == "desk@example.com" and "Moscow" in mail.get_body(("plain",)).get_content()
    assert len(slack.posted("/services/T/B/X")) == 1 and len(slack.posted("/api/chat.postMessage")) == 1


def test_smtp_sink_keeps_each_message_as_a_file(tmp_path):
    port = free_port()
    maildir = tmp_path / "mail"
    log = open(tmp_path / "sink.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "wirewatch"), "alerts", "smtp-sink", "--port", str(port),
                             "--maildir", str(maildir)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "SMTP sink on" in (tmp_path / "sink.log").read_text(), 30, what="the sink to listen")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "Hello sink"
        msg.set_content("body text")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(msg)
        [saved] = wait_for(lambda: list((maildir / "new").glob("*")), 10, what="the saved message")
        assert "Subject: Hello sink" in saved.read_text()
        wait_for(lambda: "mail to b@example.com: Hello sink" in (tmp_path / "sink.log").read_text(), 10, what="the log line")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
