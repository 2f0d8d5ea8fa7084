"""`wirewatch rules check` reports bad queries and bad subscriptions, each with line, rule id and reason."""

from pathlib import Path

from typer.testing import CliRunner

from wirewatch.cli import app

REPO = Path(__file__).resolve().parents[2]

BAD = """rules:
  - id: fax-desk
    query: oil
    subscribers:
      - fax: "+44 20 7946 0000"
  - id: typo-mail
    query: opec
    subscribers:
      - email: "desk at example.com"
  - id: bad-hook
    query: gold
    subscribers:
      - slack_webhook: "hooks.slack.com/services/T/B/X"
  - id: mars-time
    query: cocoa
    subscribers:
      - email: night@example.com
        quiet_hours: {start: "22:00", end: "07:00", tz: Mars/Olympus_Mons}
  - id: chained
    query: a NEAR/2 b NEAR/3 c
  - id: fine
    query: '"peace talks"'
    subscribers:
      - console: true
"""


def test_every_bad_subscription_and_query_is_reported(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 5, result.stdout
    by_rule = {rule: next(line for line in lines if f"rule '{rule}'" in line) for rule in
               ("fax-desk", "typo-mail", "bad-hook", "mars-time", "chained")}
    assert "unknown channel type 'fax'" in by_rule["fax-desk"] and by_rule["fax-desk"].startswith(f"{path}:2:")
    assert "not a valid email address" in by_rule["typo-mail"]
    assert "https://" in by_rule["bad-hook"]
    assert "unknown time zone 'Mars/Olympus_Mons'" in by_rule["mars-time"]
    assert "column 12" in by_rule["chained"] and "NEAR" in by_rule["chained"]


def test_the_example_rules_are_valid():
    result = CliRunner().invoke(app, ["rules", "check", str(REPO / "examples" / "rules.yaml")])
    assert result.exit_code == 0, result.stdout
