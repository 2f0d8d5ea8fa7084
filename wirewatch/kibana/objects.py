"""Pure: the Kibana saved objects for the story index, and links into Discover.

What `wirewatch kibana export` writes and `kibana import` sends (NDJSON, one
saved object a line, the format of Kibana's saved objects export):

- a data view (`index-pattern`) on the story index, time field `@timestamp`,
  with field formats: `rules` shows each rule id as "name (id)" (static
  lookup), `urgency` shows "1 flash" … "9 lowest" (static lookup), `source`
  stays plain text (string format) and `url` is a link (url format);
- one saved search (`search`) per rule: Discover on `rules:"<id>"`, titled
  with the rule's name, columns title/source/rules, newest first;
- a saved search of every matched story (`rules:*`), shown on the dashboard;
- two Lens visualizations (`lens`): matches per rule over time (stacked
  bars) and the urgency of matched stories (donut);
- a dashboard with the two charts and the latest matched stories.

Ids are uuid5 of the index name and the rule id, so importing again
overwrites the same objects instead of adding copies, and an alert can link
to its rule's saved search without asking Kibana.

Shapes follow what Kibana 9.x itself exports and ships (its sample-data
saved objects and the saved-object types' legacy schemas): attributes only
from those schemas (Kibana refuses unknown ones), and migration versions of
the last legacy migration of each type (`coreMigrationVersion` 8.8.0;
index-pattern 8.0.0, search 8.0.0, lens 8.9.0, dashboard 8.9.0).  Older
migration versions are migrated forward on import (Kibana 9 runs its model
versions on them); a version newer than the running Kibana knows would be
refused, so none is claimed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from wirewatch.rules import Rule

# Fixed forever: changing it would change every id (and duplicate every object on the next import).
ID_NAMESPACE = uuid.UUID("6f1b7f3e-5a52-5c3e-9d0e-7769726577a1")

CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}
PANEL_VERSION = "8.9.0"

TIME_FIELD = "@timestamp"
COLUMNS = ["title", "source", "rules"]
SEARCH_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"

# IPTC urgency: 1 is the most urgent, 9 the least.
URGENCY_LABELS = {
    1: "1 flash",
    2: "2 bulletin",
    3: "3 urgent",
    4: "4 high",
    5: "5 normal",
    6: "6 low",
    7: "7 low",
    8: "8 low",
    9: "9 lowest",
}

RULES_IN_CHART = 10  # rules the over-time chart shows by name; the others are "Other"


def _id(*parts: str) -> str:
    # Parts joined with a character no index name can hold, so ("a", "b:c") and ("a:b", "c") differ.
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))


def data_view_id(index: str) -> str:
    return _id("data-view", index)


def rule_search_id(index: str, rule_id: str) -> str:
    return _id("search", index, rule_id)


def all_matches_search_id(index: str) -> str:
    return _id("search-all", index)


def lens_id(index: str, name: str) -> str:
    return _id("lens", index, name)


def dashboard_id(index: str) -> str:
    return _id("dashboard", index)


# ---------------------------------------------------------------- escaping


def kql_string(value: str) -> str:
    """A KQL quoted string: matches `value` exactly, whatever it holds.

    Inside quotes KQL gives meaning only to `\\` and `"` (and `\\t`, `\\n`,
    `\\r` as escapes): both are escaped, so `*`, `:`, `(`, `or` … are literal.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kql_field_is(field: str, value: str) -> str:
    return f"{field}:{kql_string(value)}"


def rison_string(value: str) -> str:
    """A rison string literal (what Kibana's URL state is written in): `!` and `'` escaped with `!`."""
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


# Characters Kibana's own URLs leave as they are in rison state; everything else is %-encoded.
_RISON_SAFE = "!'()*:,-._~/"


def url_rison(rison: str) -> str:
    return quote(rison, safe=_RISON_SAFE)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- objects


def _saved_object(type_: str, id_: str, attributes: dict, references: list[dict]) -> dict:
    return {
        "type": type_,
        "id": id_,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[type_],
        "managed": False,
    }


def rule_label(rule: Rule) -> str:
    name = (rule.name or "").strip()
    return f"{name} ({rule.id})" if name and name != rule.id else rule.id


def field_formats(rules: Iterable[Rule]) -> dict[str, dict]:
    return {
        "rules": {
            "id": "static_lookup",
            "params": {
                # Ids of rules since removed are shown as they are.
                "lookupEntries": [{"key": r.id, "value": rule_label(r)} for r in sorted(rules, key=lambda r: r.id)],
                "unknownKeyValue": None,
            },
        },
        "urgency": {
            "id": "static_lookup",
            "params": {
                "lookupEntries": [{"key": str(k), "value": v} for k, v in URGENCY_LABELS.items()],
                "unknownKeyValue": None,
            },
        },
        "source": {"id": "string", "params": {"transform": False}},
        "url": {"id": "url", "params": {"type": "a"}},
    }


def data_view(index: str, rules: Iterable[Rule]) -> dict:
    attributes = {
        "title": index,
        "name": f"WireWatch stories ({index})",
        "timeFieldName": TIME_FIELD,
        "fields": "[]",
        "fieldFormatMap": _json(field_formats(rules)),
        "fieldAttrs": _json({"urgency": {"customLabel": "Urgency"}, "rules": {"customLabel": "Rules"}}),
        "runtimeFieldMap": "{}",
        "sourceFilters": "[]",
        "typeMeta": "{}",
        # Usable before the first story creates the index.
        "allowNoIndex": True,
    }
    return _saved_object("index-pattern", data_view_id(index), attributes, [])


def _search(index: str, id_: str, title: str, description: str, query: str) -> dict:
    source = {
        "query": {"query": query, "language": "kuery"},
        "filter": [],
        "indexRefName": SEARCH_INDEX_REF,
    }
    attributes = {
        "title": title,
        "description": description,
        "columns": list(COLUMNS),
        "sort": [[TIME_FIELD, "desc"]],
        "grid": {},
        "hideChart": False,
        "isTextBasedQuery": False,
        "kibanaSavedObjectMeta": {"searchSourceJSON": _json(source)},
    }
    refs = [{"name": SEARCH_INDEX_REF, "type": "index-pattern", "id": data_view_id(index)}]
    return _saved_object("search", id_, attributes, refs)


def rule_query(rule_id: str) -> str:
    return kql_field_is("rules", rule_id)


def rule_search(index: str, rule: Rule) -> dict:
    return _search(
        index,
        rule_search_id(index, rule.id),
        title=(rule.name or "").strip() or rule.id,
        description=f"WireWatch rule {rule.id}: stories that matched {rule.query}",
        query=rule_query(rule.id),
    )


def all_matches_search(index: str) -> dict:
    return _search(
        index,
        all_matches_search_id(index),
        title="WireWatch: latest matched stories",
        description="Every story that matched at least one WireWatch rule, newest first.",
        query="rules:*",
    )


def _lens(index: str, name: str, title: str, description: str, visualization_type: str,
          layer_id: str, columns: dict[str, dict], column_order: list[str], visualization: dict) -> dict:
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {layer_id: {"columns": columns, "columnOrder": column_order, "incompleteColumns": {}}}
            }
        },
        "visualization": visualization,
        "query": {"query": "rules:*", "language": "kuery"},
        "filters": [],
        "internalReferences": [],
        "adHocDataViews": {},
    }
    attributes = {"title": title, "description": description, "visualizationType": visualization_type, "state": state}
    dv = data_view_id(index)
    refs = [
        {"type": "index-pattern", "id": dv, "name": "indexpattern-datasource-current-indexpattern"},
        {"type": "index-pattern", "id": dv, "name": f"indexpattern-datasource-layer-{layer_id}"},
    ]
    return _saved_object("lens", lens_id(index, name), attributes, refs)


def matches_over_time(index: str) -> dict:
    layer = _id("layer", index, "matches-over-time")
    rule, time, count = "rule", "time", "count"
    columns = {
        rule: {
            "label": "Rule", "customLabel": True, "dataType": "string", "operationType": "terms",
            "sourceField": "rules", "isBucketed": True, "scale": "ordinal",
            "params": {"size": RULES_IN_CHART, "orderBy": {"type": "column", "columnId": count},
                       "orderDirection": "desc", "otherBucket": True, "missingBucket": False,
                       "parentFormat": {"id": "terms"}},
        },
        time: {
            "label": TIME_FIELD, "dataType": "date", "operationType": "date_histogram",
            "sourceField": TIME_FIELD, "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
        },
        count: {
            "label": "Matches", "customLabel": True, "dataType": "number", "operationType": "count",
            "sourceField": "___records___", "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True},
        },
    }
    visualization = {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": "bar_stacked",
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": True, "yRight": True},
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "layers": [{
            "layerId": layer, "layerType": "data", "seriesType": "bar_stacked",
            "xAccessor": time, "splitAccessor": rule, "accessors": [count],
        }],
    }
    return _lens(index, "matches-over-time", "Matches per rule over time",
                 f"Stories matched per rule (top {RULES_IN_CHART}; a story that matched two rules counts for each).",
                 "lnsXY", layer, columns, [rule, time, count], visualization)


def urgency_breakdown(index: str) -> dict:
    layer = _id("layer", index, "urgency")
    urgency, count = "urgency", "count"
    columns = {
        urgency: {
            "label": "Urgency", "customLabel": True, "dataType": "number", "operationType": "terms",
            "sourceField": "urgency", "isBucketed": True, "scale": "ordinal",
            "params": {"size": 9, "orderBy": {"type": "alphabetical", "fallback": False},
                       "orderDirection": "asc", "otherBucket": False, "missingBucket": True,
                       "parentFormat": {"id": "terms"}},
        },
        count: {
            "label": "Stories", "customLabel": True, "dataType": "number", "operationType": "count",
            "sourceField": "___records___", "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True},
        },
    }
    visualization = {
        "shape": "donut",
        "layers": [{
            "layerId": layer, "layerType": "data", "primaryGroups": [urgency], "metrics": [count],
            "numberDisplay": "percent", "categoryDisplay": "default", "legendDisplay": "default", "nestedLegend": False,
        }],
    }
    return _lens(index, "urgency", "Urgency of matched stories",
                 "Matched stories by IPTC urgency (1 flash … 9 lowest; missing when the wire gave none).",
                 "lnsPie", layer, columns, [urgency, count], visualization)


@dataclass(frozen=True)
class Panel:
    key: str  # panelIndex
    type: str
    id: str
    x: int
    y: int
    w: int
    h: int


def dashboard(index: str, panels: list[Panel]) -> dict:
    panels_json = [
        {
            "version": PANEL_VERSION,
            "type": p.type,
            "gridData": {"x": p.x, "y": p.y, "w": p.w, "h": p.h, "i": p.key},
            "panelIndex": p.key,
            "embeddableConfig": {"enhancements": {}},
            "panelRefName": f"panel_{p.key}",
        }
        for p in panels
    ]
    refs = [{"name": f"{p.key}:panel_{p.key}", "type": p.type, "id": p.id} for p in panels]
    attributes = {
        "title": "WireWatch",
        "description": f"Matches of the WireWatch rules in {index}: per rule over time, by urgency, and the latest stories.",
        "panelsJSON": _json(panels_json),
        "optionsJSON": _json({"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False,
                              "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-7d",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 60000},
        "kibanaSavedObjectMeta": {"searchSourceJSON": _json({"query": {"query": "", "language": "kuery"}, "filter": []})},
        "version": 1,
    }
    return _saved_object("dashboard", dashboard_id(index), attributes, refs)


def saved_objects(index: str, rules: Iterable[Rule]) -> list[dict]:
    """Every saved object, in import order: data view, dashboard and what it shows, then one search per rule."""
    rules = sorted(rules, key=lambda r: r.id)
    over_time, urgency, latest = matches_over_time(index), urgency_breakdown(index), all_matches_search(index)
    board = dashboard(index, [
        Panel("1", "lens", over_time["id"], 0, 0, 32, 15),
        Panel("2", "lens", urgency["id"], 32, 0, 16, 15),
        Panel("3", "search", latest["id"], 0, 15, 48, 20),
    ])
    return [data_view(index, rules), over_time, urgency, latest, board, *(rule_search(index, r) for r in rules)]


def to_ndjson(objects: Iterable[dict]) -> str:
    return "".join(_json(o) + "\n" for o in objects)


# ---------------------------------------------------------------- links


def discover_story_url(kibana_url: str, index: str, rule_id: str, story_id: str, when: datetime | None = None) -> str:
    """The story in its rule's saved search in Discover.

    `{kibana_url}/app/discover#/view/{saved search id}?_g=(time:(from:'…',to:'…'))&_a=(query:(language:kuery,query:'story_id:"…"'))`:
    the rule's columns and sort, the query narrowed to the one story, and the
    time range a day either side of the story's time (all time without one).
    The story id is escaped for KQL, then for rison, then for the URL.
    """
    base = kibana_url.rstrip("/")
    if when is not None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        stamp = lambda t: t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
        time = f"(from:{rison_string(stamp(when - timedelta(days=1)))},to:{rison_string(stamp(when + timedelta(days=1)))})"
    else:
        time = "(from:'1970-01-01T00:00:00.000Z',to:now)"
    query = f"(query:(language:kuery,query:{rison_string(kql_field_is('story_id', story_id))}))"
    search = quote(rule_search_id(index, rule_id), safe="")
    return f"{base}/app/discover#/view/{search}?_g={url_rison(f'(time:{time})')}&_a={url_rison(query)}"


def dashboard_url(kibana_url: str, index: str) -> str:
    return f"{kibana_url.rstrip('/')}/app/dashboards#/view/{dashboard_id(index)}"
