"""`wirewatch search`: query the story index and show hits with highlighted snippets."""

from __future__ import annotations

import json

import typer

from .common import console, friendly_errors, out, settings

_PRE, _POST = "\x02", "\x03"


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: str = typer.Argument(
        "", help='Words to find in headline and body; "quotes" for a phrase, -word to exclude, OR between alternatives. Empty: newest stories.'
    ),
    rules: list[str] = typer.Option(None, "--rule", "-r", help="Only stories that matched this rule (repeatable)."),
    since: str = typer.Option(None, "--since", "-s", help="Only stories published since: 10m, 2h, 7d or a time."),
    size: int = typer.Option(10, "--size", "-n", min=1, max=10000, help="How many hits to show."),
    newest: bool = typer.Option(False, "--newest", help="Sort by time, newest first (default: best match first)."),
    as_json: bool = typer.Option(False, "--json", help="Print each hit's document as one JSON line."),
    index: str = typer.Option(None, "--index", help="Index to search. Default: WIREWATCH_INDEX."),
) -> None:
    """Search indexed stories (Elasticsearch), with the matched rules and highlighted snippets.

    Examples:

      wirewatch search '"peace talks"'

      wirewatch search 'opec -iran' --since 30d --newest

      wirewatch search --rule lethal-aid
    """
    from rich.text import Text

    from streams import elastic
    from wirewatch.errors import ConfigError
    from wirewatch.timeparse import parse_since

    s = settings(index=index)
    must: list[dict] = []
    if query.strip():
        must.append(
            {"simple_query_string": {"query": query, "fields": ["title^2", "body"], "default_operator": "and"}}
        )
    filters: list[dict] = []
    if rules:
        filters.append({"terms": {"rules": list(rules)}})
    with friendly_errors():
        if since:
            try:
                filters.append({"range": {"@timestamp": {"gte": parse_since(since).isoformat()}}})
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        body = {
            "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
            "highlight": {
                "pre_tags": [_PRE],
                "post_tags": [_POST],
                "fields": {"title": {"number_of_fragments": 0}, "body": {"fragment_size": 160, "number_of_fragments": 2}},
            },
            "size": size,
            "track_total_hits": True,
        }
        if newest or not query.strip():
            body["sort"] = [{"@timestamp": "desc"}]
        es = elastic.sync_client(s)
        try:
            resp = es.search(index=s.index, **body)
        except Exception as exc:
            raise elastic.translate(exc, f"searching {s.index}") from exc
        finally:
            es.close()
    hits = resp["hits"]["hits"]
    total = resp["hits"]["total"]["value"]
    if as_json:
        for h in hits:
            out.print(json.dumps(h["_source"], ensure_ascii=False), markup=False, highlight=False)
        return
    console.print(f"[dim]{total} stories in {s.index}; showing {len(hits)}[/]")
    for h in hits:
        src, hl = h["_source"], h.get("highlight", {})
        head = Text()
        head.append((src.get("@timestamp") or "")[:19].replace("T", " "), "cyan")
        head.append("  ")
        if src.get("rules"):
            head.append("[" + ", ".join(src["rules"]) + "] ", "bold magenta")
        head.append_text(_highlighted(hl.get("title", [src.get("title") or "(no headline)"])[0], "bold"))
        out.print(head)
        for fragment in hl.get("body", []):
            out.print(Text("  … ").append_text(_highlighted(" ".join(fragment.split()))).append(" …"))
        out.print(Text(f"  {h['_id']} v{src.get('version', 1)}  {src.get('source', '')}", "dim"))


def _highlighted(fragment: str, style: str | None = None):
    from rich.text import Text

    text = Text(style=style or "")
    marked = False
    for part in fragment.replace(_POST, _PRE).split(_PRE):
        if part:
            text.append(part, "bold black on yellow" if marked else None)
        marked = not marked
    return text
