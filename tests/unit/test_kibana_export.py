"""`wirewatch kibana export`: Kibana 9 saved objects, checked against the shapes Kibana documents and ships.

No Kibana runs here.  What is checked is what Kibana's import checks or
relies on: one saved object per NDJSON line; the types; references that
resolve within the file; `indexRefName` / `panelRefName` naming a
reference; only attribute names the types' schemas accept (Kibana 9 refuses
unknown ones for search and dashboard); migration versions Kibana 9 knows;
ids that do not change between runs; and user text (rule ids and names)
escaped for JSON, KQL, rison and URLs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from typer.testing import CliRunner

from wirewatch.cli import app
from wirewatch.kibana import objects
from wirewatch.rules import Rule

REPO = Path(__file__).resolve().parents[2]
INDEX = "wirewatch-stories"

NASTY_ID = 'a"b\\c:*) or rules:* \'x\'!'
NASTY_NAME = 'Say "hi" \\ to C:\\temp (or *) — <b>&amp;'
RULES = [
    Rule("opec", "OPEC NEAR/5 cut*", "OPEC output"),
    Rule("cocoa", "title:cocoa", None),
    Rule(NASTY_ID, "x", NASTY_NAME),
]

# Attribute names the Kibana 9 saved-object schemas accept (search: the legacy
# 8.8.0 schema; dashboard: the 8.9.0 / model version 1 schema, `unknowns: forbid`).
SEARCH_ATTRIBUTES = {
    "title", "description", "columns", "sort", "grid", "rowHeight", "rowsPerPage", "hideChart", "breakdownField",
    "kibanaSavedObjectMeta", "isTextBasedQuery", "usesAdHocDataView", "timeRestore", "timeRange", "refreshInterval",
    "viewMode", "hideAggregatedPreview", "hits", "version",
}
DASHBOARD_ATTRIBUTES = {
    "title", "description", "kibanaSavedObjectMeta", "timeRestore", "timeFrom", "timeTo", "refreshInterval",
    "controlGroupInput", "panelsJSON", "optionsJSON", "hits", "version",
}
DATA_VIEW_ATTRIBUTES = {
    "title", "name", "timeFieldName", "fields", "fieldFormatMap", "fieldAttrs", "runtimeFieldMap", "sourceFilters",
    "typeMeta", "allowNoIndex", "type", "intervalName", "allowHidden",
}


def kql_unquote(text: str) -> str:
    """The value of one KQL quoted string (the grammar: \\\\, \\" and \\t \\r \\n are escapes)."""
    assert text[0] == '"' and text[-1] == '"', text
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            out.append({"t": "\t", "r": "\r", "n": "\n"}.get(nxt, nxt))
            assert nxt in '\\"trn', f"undefined escape in {text!r}"
            i += 2
        else:
            assert c != '"', f"unescaped quote in {text!r}"
            out.append(c)
            i += 1
    return "".join(out)


def rison_unquote(text: str) -> str:
    assert text[0] == "'" and text[-1] == "'", text
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "!":
            assert body[i + 1] in "!'", text
            out.append(body[i + 1])
            i += 2
        else:
            assert body[i] != "'", f"unescaped quote in {text!r}"
            out.append(body[i])
            i += 1
    return "".join(out)


@pytest.fixture(scope="module")
def ndjson() -> str:
    return objects.to_ndjson(objects.saved_objects(INDEX, RULES))


@pytest.fixture(scope="module")
def objs(ndjson) -> list[dict]:
    return [json.loads(line) for line in ndjson.splitlines()]


def by_type(objs, type_):
    return [o for o in objs if o["type"] == type_]


def test_every_line_is_one_saved_object(ndjson, objs):
    assert ndjson.endswith("\n") and "\n\n" not in ndjson
    assert len(objs) == len(ndjson.splitlines()) == 5 + len(RULES)
    for o in objs:
        assert set(o) == {"type", "id", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion", "managed"}
        assert o["coreMigrationVersion"] == "8.8.0"
        assert isinstance(o["attributes"]["title"], str) and o["attributes"]["title"]
    assert len({(o["type"], o["id"]) for o in objs}) == len(objs)


def test_types_and_migration_versions(objs):
    assert [o["type"] for o in objs[:5]] == ["index-pattern", "lens", "lens", "search", "dashboard"]
    assert {o["type"] for o in objs[5:]} == {"search"}
    versions = {o["type"]: o["typeMigrationVersion"] for o in objs}
    # The last legacy migration of each type: at or after 8.0.0 (when the types
    # became multi-namespace) and before the model versions (10.x.0) Kibana 9 adds.
    assert versions == {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}


def test_every_reference_resolves_to_an_object_in_the_file(objs):
    present = {(o["type"], o["id"]) for o in objs}
    for o in objs:
        names = [r["name"] for r in o["references"]]
        assert len(names) == len(set(names)), o["id"]
        for ref in o["references"]:
            assert (ref["type"], ref["id"]) in present, (o["type"], o["id"], ref)


def test_the_data_view(objs):
    (dv,) = by_type(objs, "index-pattern")
    a = dv["attributes"]
    assert set(a) <= DATA_VIEW_ATTRIBUTES
    assert a["title"] == INDEX and a["timeFieldName"] == "@timestamp" and a["allowNoIndex"] is True
    formats = json.loads(a["fieldFormatMap"])
    assert set(formats) == {"rules", "urgency", "source", "url"}
    rules = {e["key"]: e["value"] for e in formats["rules"]["params"]["lookupEntries"]}
    assert formats["rules"]["id"] == "static_lookup" and formats["rules"]["params"]["unknownKeyValue"] is None
    assert rules == {"opec": "OPEC output (opec)", "cocoa": "cocoa", NASTY_ID: f"{NASTY_NAME} ({NASTY_ID})"}
    urgency = {e["key"]: e["value"] for e in formats["urgency"]["params"]["lookupEntries"]}
    assert urgency["1"] == "1 flash" and urgency["9"] == "9 lowest" and len(urgency) == 9
    assert formats["source"]["id"] == "string" and formats["url"]["id"] == "url"
    for name in ("fields", "fieldAttrs", "runtimeFieldMap", "sourceFilters", "typeMeta"):
        json.loads(a[name])


def search_source(o) -> dict:
    return json.loads(o["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_one_saved_search_per_rule_on_its_rule(objs):
    dv = by_type(objs, "index-pattern")[0]["id"]
    searches = by_type(objs, "search")
    per_rule = {}
    for s in searches:
        a, source = s["attributes"], search_source(s)
        assert set(a) <= SEARCH_ATTRIBUTES
        assert a["columns"] == ["title", "source", "rules"] and a["sort"] == [["@timestamp", "desc"]]
        assert source["query"]["language"] == "kuery" and source["filter"] == []
        ref = {r["name"]: r for r in s["references"]}[source["indexRefName"]]
        assert ref == {"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": dv}
        query = source["query"]["query"]
        if query == "rules:*":
            continue
        field, _, quoted = query.partition(":")
        assert field == "rules"
        per_rule[kql_unquote(quoted)] = s
    assert set(per_rule) == {r.id for r in RULES}
    for rule in RULES:
        s = per_rule[rule.id]
        assert s["id"] == objects.rule_search_id(INDEX, rule.id)
        assert s["attributes"]["title"] == (rule.name or rule.id)
        assert rule.id in s["attributes"]["description"]


def test_rule_text_is_escaped_for_kql_and_survives_json(objs):
    s = next(o for o in by_type(objs, "search") if o["id"] == objects.rule_search_id(INDEX, NASTY_ID))
    query = search_source(s)["query"]["query"]
    assert query == 'rules:"a\\"b\\\\c:*) or rules:* \'x\'!"'
    assert kql_unquote(query[len("rules:"):]) == NASTY_ID
    assert s["attributes"]["title"] == NASTY_NAME
    # A backslash before t/n/r would be an escape in KQL: it is doubled.
    assert kql_unquote(objects.kql_string("C:\\temp\\new")) == "C:\\temp\\new"


def test_ids_are_stable_across_runs_and_depend_on_index_and_rule():
    first = [(o["type"], o["id"]) for o in objects.saved_objects(INDEX, RULES)]
    again = [(o["type"], o["id"]) for o in objects.saved_objects(INDEX, list(reversed(RULES)))]
    assert first == again
    # Pinned: a change here would duplicate every object already imported.
    assert objects.data_view_id(INDEX) == "24808ebd-1f74-531e-a374-1557b027b280"
    assert objects.rule_search_id(INDEX, "opec") != objects.rule_search_id("other-index", "opec")
    assert objects.rule_search_id(INDEX, "a") != objects.rule_search_id(INDEX, "b")
    other = {o["id"] for o in objects.saved_objects("other-index", RULES)}
    assert not other & {i for _, i in first}


def test_lens_layers_columns_and_references(objs):
    lenses = by_type(objs, "lens")
    assert {l["attributes"]["visualizationType"] for l in lenses} == {"lnsXY", "lnsPie"}
    for lens in lenses:
        state = lens["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        refs = {r["name"] for r in lens["references"]}
        for layer_id, layer in layers.items():
            assert f"indexpattern-datasource-layer-{layer_id}" in refs
            assert set(layer["columnOrder"]) == set(layer["columns"])
            for column in layer["columns"].values():
                assert column["sourceField"] in {"rules", "urgency", "@timestamp", "___records___"}
        for vis_layer in state["visualization"]["layers"]:
            columns = layers[vis_layer["layerId"]]["columns"]
            used = [vis_layer.get(k) for k in ("xAccessor", "splitAccessor") if vis_layer.get(k)]
            used += vis_layer.get("accessors", []) + vis_layer.get("primaryGroups", []) + vis_layer.get("metrics", [])
            assert used and all(c in columns for c in used)
        assert state["query"] == {"query": "rules:*", "language": "kuery"}


def test_dashboard_panels_reference_objects_in_the_file(objs):
    (board,) = by_type(objs, "dashboard")
    a = board["attributes"]
    assert set(a) <= DASHBOARD_ATTRIBUTES
    panels = json.loads(a["panelsJSON"])
    json.loads(a["optionsJSON"])
    json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
    present = {(o["type"], o["id"]): o for o in objs}
    refs = {r["name"]: r for r in board["references"]}
    shown = []
    for p in panels:
        assert p["gridData"]["i"] == p["panelIndex"]
        assert 0 <= p["gridData"]["x"] and p["gridData"]["x"] + p["gridData"]["w"] <= 48
        ref = refs[f"{p['panelIndex']}:{p['panelRefName']}"]
        assert ref["type"] == p["type"]
        shown.append(present[(ref["type"], ref["id"])])
    assert [o["type"] for o in shown] == ["lens", "lens", "search"]
    assert search_source(shown[2])["query"]["query"] == "rules:*"
    assert a["timeRestore"] is True


def test_without_rules_the_common_objects_only():
    objs = objects.saved_objects(INDEX, [])
    assert [o["type"] for o in objs] == ["index-pattern", "lens", "lens", "search", "dashboard"]


def test_discover_link_escapes_the_story_id_for_kql_rison_and_the_url():
    story_id = "urn:x 'quoted' & \"double\" #1 100%!+"
    when = datetime(2024, 5, 2, 10, 0, tzinfo=timezone.utc)
    url = objects.discover_story_url("http://kibana:5601/s/news/", INDEX, "opec", story_id, when)
    base, _, fragment = url.partition("#")
    assert base == "http://kibana:5601/s/news/app/discover"
    path, _, query = fragment.partition("?")
    assert path == f"/view/{objects.rule_search_id(INDEX, 'opec')}"
    assert " " not in url and '"' not in url and url.count("#") == 1
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert set(params) == {"_g", "_a"}
    g, a = unquote(params["_g"]), unquote(params["_a"])
    assert g == "(time:(from:'2024-05-01T10:00:00.000Z',to:'2024-05-03T10:00:00.000Z'))"
    m = re.fullmatch(r"\(query:\(language:kuery,query:('(?:[^'!]|!.)*')\)\)", a)
    assert m, a
    kql = rison_unquote(m.group(1))
    assert kql.startswith("story_id:") and kql_unquote(kql[len("story_id:"):]) == story_id


def test_cli_export_writes_the_file_with_the_rules(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": [{"id": NASTY_ID, "name": NASTY_NAME, "query": "gold"}]}))
    out = tmp_path / "wirewatch.ndjson"
    result = CliRunner().invoke(app, ["kibana", "export", "--rules", str(rules), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [o["type"] for o in lines].count("search") == 2
    again = tmp_path / "again.ndjson"
    CliRunner().invoke(app, ["kibana", "export", "--rules", str(rules), "--out", str(again)])
    assert again.read_text() == out.read_text()


def test_cli_export_refuses_a_rules_file_with_problems(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: bad\n    query: 'NOT x'\n")
    result = CliRunner().invoke(app, ["kibana", "export", "--rules", str(rules)])
    assert result.exit_code == 2
    assert "nothing was exported" in result.output and "bad" in result.output


def test_the_sample_rules_export():
    result = CliRunner().invoke(app, ["kibana", "export", "--rules", str(REPO / "examples/rules.yaml")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    rules = yaml.safe_load((REPO / "examples/rules.yaml").read_text())["rules"]
    assert len(by_type(lines, "search")) == len(rules) + 1
