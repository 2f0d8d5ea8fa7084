"""Rules on the compacted rules topic: apply, list, and a worker's live view of them."""

import asyncio

from kafka import KafkaProducer

from producers.rules_topic import read_live
from wirewatch.cli.rules_live import apply_rules_file as apply_file
from streams.live_rules import LiveRules
from support.processes import run

RULES_V1 = """
rules:
  - id: oil
    name: Oil prices
    query: crude NEAR/3 (price OR prices)
  - id: cocoa
    query: title:cocoa
"""

RULES_V2 = """
rules:
  - id: oil
    name: Oil prices
    query: '"crude oil"'
  - id: opec
    query: OPEC
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_apply_publishes_only_the_difference(settings, tmp_path):
    v1, v2 = write(tmp_path, "v1.yaml", RULES_V1), write(tmp_path, "v2.yaml", RULES_V2)
    change = apply_file(settings, v1)
    assert (sorted(change.added), change.changed, change.removed) == (["cocoa", "oil"], [], [])
    assert not apply_file(settings, v1)  # nothing differs: nothing sent
    change = apply_file(settings, v2)
    assert (change.added, change.changed, change.removed) == (["opec"], ["oil"], ["cocoa"])
    live, problems = read_live(settings)
    assert not problems
    assert {r.id: r.query for r in live.values()} == {"oil": '"crude oil"', "opec": "OPEC"}
    assert live["oil"].name == "Oil prices"


def test_apply_refuses_a_file_with_a_bad_rule(settings, tmp_path):
    bad = write(tmp_path, "bad.yaml", RULES_V1 + "  - id: broken\n    query: a NEAR/2 b NEAR/3 c\n")
    result = run(settings, "rules", "apply", str(bad))
    assert result.returncode == 2
    assert "broken" in result.stderr and "nothing was published" in result.stderr
    assert read_live(settings) == ({}, [])
    ok = run(settings, "rules", "apply", str(write(tmp_path, "ok.yaml", RULES_V1)))
    assert ok.returncode == 0, ok.stderr
    listed = run(settings, "rules", "list", "--json")
    assert '"id": "cocoa"' in listed.stdout and '"id": "oil"' in listed.stdout


def test_a_worker_follows_changes_live_and_reports_bad_rules(settings, tmp_path):
    apply_file(settings, write(tmp_path, "v1.yaml", RULES_V1))
    problems = []

    async def on_problem(exc, message):
        problems.append((str(exc), message.offset))

    async def scenario():
        rules = LiveRules(settings, on_problem)
        task = asyncio.create_task(rules.run())
        try:
            await asyncio.wait_for(rules.ready.wait(), 30)
            assert rules.matcher.match("Cocoa exports rise", "") == ["cocoa"]
            assert rules.matcher.match("", "crude rose; prices fell") == ["oil"]

            # A person applying a file from another terminal (the command runs its own event loop).
            await asyncio.to_thread(apply_file, settings, write(tmp_path, "v2.yaml", RULES_V2))
            producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
            producer.send(settings.rules_topic, key=b"junk", value=b"{not json").get(30)
            producer.close()

            async def changed():
                while rules.matcher.match("Cocoa and OPEC", "crude oil") != ["oil", "opec"] or not problems:
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(changed(), 30)
            assert set(rules.rules) == {"oil", "opec"}
            assert "not a valid rule" in problems[0][0]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
