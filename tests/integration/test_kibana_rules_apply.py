"""`wirewatch rules apply` with WIREWATCH_KIBANA_URL: the saved objects follow the live rules.

Real Kafka (the rules topic), a recording stand-in for Kibana on 127.0.0.1.
"""

from __future__ import annotations

import json

import pytest
from support.processes import run
from support.servers import free_port, kibana  # noqa: F401 - fixture

from producers.rules_topic import read_live
from wirewatch.kibana import objects

pytestmark = pytest.mark.integration

V1 = """
rules:
  - id: oil
    name: Oil prices
    query: crude NEAR/3 (price OR prices)
  - id: cocoa
    query: title:cocoa
"""

V2 = """
rules:
  - id: opec
    name: OPEC
    query: OPEC
"""


def searched_rules(request, index: str) -> set[str]:
    ids = {o["id"] for o in map(json.loads, request.ndjson().splitlines()) if o["type"] == "search"}
    return {rid for rid in ("oil", "cocoa", "opec") if objects.rule_search_id(index, rid) in ids}


def test_apply_imports_the_live_rules_into_kibana(kafka_settings, kibana, tmp_path):
    s = kafka_settings
    v1, v2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    v1.write_text(V1)
    v2.write_text(V2)
    first = run(s, "rules", "apply", str(v1), WIREWATCH_KIBANA_URL=kibana.url)
    assert first.returncode == 0, first.stderr
    assert f"Kibana at {kibana.url}: 7 of 7 saved object(s) imported" in " ".join(first.stderr.split())
    kept = run(s, "rules", "apply", "--keep", str(v2), WIREWATCH_KIBANA_URL=kibana.url)
    assert kept.returncode == 0, kept.stderr
    pruned = run(s, "rules", "apply", str(v2), WIREWATCH_KIBANA_URL=kibana.url)
    assert pruned.returncode == 0, pruned.stderr
    requests = kibana.received()
    assert [searched_rules(r, s.index) for r in requests] == [{"oil", "cocoa"}, {"oil", "cocoa", "opec"}, {"opec"}]
    assert all(r.path == "/api/saved_objects/_import" and r.query == {"overwrite": ["true"]} for r in requests)
    dry = run(s, "rules", "apply", "--dry-run", str(v1), WIREWATCH_KIBANA_URL=kibana.url)
    assert dry.returncode == 0, dry.stderr
    assert len(kibana.received()) == 3


def test_a_kibana_that_fails_is_a_warning_not_a_failed_apply(kafka_settings, kibana, tmp_path):
    s = kafka_settings
    rules = tmp_path / "rules.yaml"
    rules.write_text(V1)
    down = f"http://127.0.0.1:{free_port()}"
    result = run(s, "rules", "apply", str(rules), WIREWATCH_KIBANA_URL=down)
    assert result.returncode == 0, result.stderr
    err = " ".join(result.stderr.split())
    assert f"warning: Kibana not updated: cannot reach Kibana at {down}/api/saved_objects/_import" in err
    assert "2 added, 0 changed, 0 removed" in err
    assert set(read_live(s)[0]) == {"oil", "cocoa"}

    kibana.reply((200, {"success": False, "successCount": 6, "errors": [
        {"id": "x", "type": "search", "meta": {"title": "Oil prices"}, "error": {"type": "unknown", "message": "nope"}},
    ]}))
    rules.write_text(V1.replace("crude NEAR/3", "crude NEAR/4"))
    partial = run(s, "rules", "apply", str(rules), WIREWATCH_KIBANA_URL=kibana.url)
    assert partial.returncode == 0, partial.stderr
    assert "warning: Kibana: not imported: search x (Oil prices): unknown: nope" in " ".join(partial.stderr.split())
