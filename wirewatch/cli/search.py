"""`wirewatch search`: stories already indexed that a watch query (or a live rule) matches.

The query is translated to Elasticsearch Query DSL (wirewatch.query.to_es);
every candidate Elasticsearch returns is checked by the matcher itself, so
what is shown is what a watch rule with that query would have matched.
`--es` searches with Elasticsearch's own query string instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import typer
from rich.markup import escape

from .common import console, friendly_errors, out, settings

_PRE, _POST = "\x02", "\x03"
PAGE = 500  # candidates per request when the matcher has to sift them


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: str = typer.Argument(
        "",
        help="A watch query, as in a rules file (or, with --es, Elasticsearch's query string). Empty: newest stories.",
        show_default=False,
    ),
    query_option: str = typer.Option(None, "--query", "-q", help="The watch query, given as an option instead of the argument.", show_default=False),
    rules: list[str] = typer.Option(None, "--rule", "-r", help="Use this live rule's query (from the rules topic); repeatable: stories any of them match.", show_default=False),
    matched: list[str] = typer.Option(None, "--matched", "-m", help="Only stories that matched this rule when they were indexed (repeatable).", show_default=False),
    es_syntax: bool = typer.Option(False, "--es", help="QUERY is Elasticsearch's simple query string ('opec -iran', \"peace talks\"), not a watch query; nothing is checked by the matcher."),
    since: str = typer.Option(None, "--since", "-s", help="Only stories published since: 10m, 2h, 7d or a time."),
    include_withdrawn: bool = typer.Option(False, "--include-withdrawn", help="Show stories their agency killed or withdrew too (hidden by default)."),
    size: int = typer.Option(10, "--size", "-n", min=1, max=10000, help="How many hits to show."),
    newest: bool = typer.Option(False, "--newest", help="Sort by time, newest first (default: best match first)."),
    every: bool = typer.Option(False, "--all", help="Every matching story, however many (one line each: id, time, headline); the count at the end is exact."),
    as_json: bool = typer.Option(False, "--json", help="Print each hit's document as one JSON line."),
    show_dsl: bool = typer.Option(False, "--dsl", help="Print the Elasticsearch query and what in it is only a prefilter; search nothing."),
    index: str = typer.Option(None, "--index", help="Index to search. Default: WIREWATCH_INDEX."),
) -> None:
    """Search indexed stories with a watch query: exactly the stories a rule with that query matches.

    The language is that of watch rules: words, "phrases", prefix*, AND, OR, NOT or -word, a NEAR/n b, title: and body:, ( ). It runs as Elasticsearch Query DSL on the tokens the index stage stores for each story, and the matcher checks every candidate, so the answer is what the matcher would match.

    Exact in Elasticsearch: terms, phrases, prefixes, AND, OR, NOT, NEAR/n, field scopes. Only a prefilter (the matcher decides): a word of 100 or more characters, a NOT over one, and stories indexed without the token fields (by an older WireWatch). --dsl shows the query and says which.

    Examples:

      wirewatch search '"crude oil" NEAR/5 (price* OR cut*) -iran'

      wirewatch search 'title:(gold OR silver) U.S.' --since 30d --newest

    Back-test a live rule on everything indexed, or show what matched it when indexed:

      wirewatch search --rule lethal-aid --all

      wirewatch search --matched lethal-aid

    Stories their agency killed or withdrew are hidden; --include-withdrawn shows them.

    The Elasticsearch query for a watch query, without searching; Elasticsearch's own query string:

      wirewatch search 'title:gold NOT silver' --dsl

      wirewatch search --es 'opec -iran'
    """
    from wirewatch.errors import ConfigError

    s = settings(index=index)
    with friendly_errors():
        if query_option is not None and query.strip():
            raise ConfigError("give the query once: as the argument or with --query, not both")
        text = query_option if query_option is not None else query
        filters = _filters(matched, since, include_withdrawn)
        if es_syntax:
            if rules:
                raise ConfigError("--rule runs a watch query; it cannot be combined with --es")
            _search_es(s, text, filters, size, newest, as_json, every, show_dsl)
            return
        plan = _plan(s, text, rules or [])
        _search_watch(s, plan, filters, size, newest, as_json, every, show_dsl)




def _filters(matched: list[str] | None, since: str | None, include_withdrawn: bool = False) -> list[dict]:
    from wirewatch.errors import ConfigError
    from wirewatch.timeparse import parse_since

    from streams.indexing import NOT_WITHDRAWN

    filters: list[dict] = [] if include_withdrawn else [NOT_WITHDRAWN]
    if matched:
        filters.append({"terms": {"rules": list(matched)}})
    if since:
        try:
            filters.append({"range": {"@timestamp": {"gte": parse_since(since).isoformat()}}})
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return filters


class _Plan:
    """What to search for: the expression for Elasticsearch, and a matcher that decides."""

    QUERY = "\x00query"  # the matcher's id for the query text; cannot clash with a rule id

    def __init__(self, text: str, rules: dict[str, str]) -> None:
        from wirewatch.query import Matcher, parse
        from wirewatch.query.to_es import combine, translate

        self.text = text.strip()
        self.rule_ids = list(rules)
        queries = [parse(self.text)] if self.text else []
        rule_exprs = [parse(q) for q in rules.values()]
        self.empty = not queries and not rule_exprs
        self.expr = None if self.empty else combine(queries, rule_exprs)
        self.translation = None if self.expr is None else translate(self.expr)
        wanted = ([(self.QUERY, self.text)] if self.text else []) + [(f"rule:{r}", q) for r, q in rules.items()]
        self.matcher = Matcher.from_rules(wanted)
        self._rule_keys = {f"rule:{r}" for r in rules}

    def decides(self, matched: set[str]) -> bool:
        """A story is a hit when it matches the query (if any) and any of the rules (if any)."""
        if self.text and self.QUERY not in matched:
            return False
        return not self._rule_keys or bool(self._rule_keys & matched)

    def check(self, src: dict, with_hits: bool = True) -> list | None:
        """The matcher's verdict on an indexed story: its hits (for highlighting, if asked), or None."""
        title, body = src.get("title") or "", src.get("body") or ""
        matched = set(self.matcher.match(title, body))
        if not self.decides(matched):
            return None
        if not with_hits:
            return []
        found = self.matcher.hits(title, body, sorted(matched & ({self.QUERY} | self._rule_keys)))
        return [h for hits in found.values() for h in hits]


def _plan(s, text: str, rule_ids: list[str]) -> _Plan:
    from wirewatch.errors import ConfigError, QueryError
    from wirewatch.query import parse

    rules: dict[str, str] = {}
    if rule_ids:
        from producers.rules_topic import read_live

        live, _ = read_live(s)
        missing = [r for r in rule_ids if r not in live]
        if missing:
            some = ", ".join(sorted(live)[:10]) or "none"
            raise ConfigError(f"no live rule {', '.join(map(repr, missing))} on {s.rules_topic} (live rules: {some})")
        rules = {r: live[r].query for r in dict.fromkeys(rule_ids)}
        for rule_id, rule_query in rules.items():
            try:
                parse(rule_query)
            except QueryError as exc:
                # Workers skip such a rule too; say which one it is.
                raise ConfigError(f"live rule {rule_id!r} has an invalid query: {exc}") from None
    try:
        return _Plan(text, rules)
    except QueryError as exc:
        where = f" at column {exc.column}" if exc.column else ""
        raise ConfigError(f"invalid query{where}: {exc.message}\n  {exc.query}") from None


def _search_watch(s, plan: _Plan, filters: list[dict], size: int, newest: bool, as_json: bool, every: bool, show_dsl: bool) -> None:
    from contextlib import closing

    from streams import elastic
    from wirewatch.query.to_es import HAS_WORDS, WORDS, candidates_query

    if show_dsl:
        _print_dsl(plan, filters)
        return
    es = elastic.sync_client(s)
    try:
        legacy = 0 if plan.empty else _count(es, s.index, {"bool": {"must_not": [HAS_WORDS], "filter": filters}})
        if plan.empty:
            query: dict = {"bool": {"must": [{"match_all": {}}], "filter": filters}}
        else:
            query = {"bool": {"must": [candidates_query(plan.translation, plan.expr, without_words=legacy > 0)], "filter": filters}}
        exact = plan.empty or (plan.translation.exact and legacy == 0)
        sort = [{"@timestamp": {"order": "desc"}}] if newest or plan.empty else [{"_score": {"order": "desc"}}]
        # Exact: the first `size` hits are the answer.  Otherwise some
        # candidates will be turned down, so read more at a time.
        page = size if exact and not every else min(10000, max(PAGE, size))
        shown = checked = total = 0
        with closing(_candidates(es, s.index, query, sort, page, _source_excludes=[WORDS])) as found:
            for hit, total in found:
                checked += 1
                hits = [] if plan.empty else plan.check(hit["_source"], with_hits=not (every or as_json))
                if hits is None:
                    continue
                shown += 1
                _print_hit(hit, hits, as_json, brief=every)
                if not every and shown == size:
                    break
    except Exception as exc:
        raise elastic.translate(exc, f"searching {s.index}") from exc
    finally:
        es.close()
    _summary(s.index, plan, exact, every, shown, checked, total, legacy)


def _count(es, index: str, query: dict) -> int:
    return int(es.count(index=index, query=query)["count"])


def _candidates(es, index: str, query: dict, sort: list[dict], page: int, **extra) -> Iterator[tuple[dict, int]]:
    """Every hit of `query` in `sort` order (with the total), read page by page from one point in time.

    A point in time keeps the pages consistent while stories are indexed
    meanwhile; the tie-break on `_shard_doc` makes `search_after` exact.
    """
    pit = es.open_point_in_time(index=index, keep_alive="2m")["id"]
    after = None
    total = None
    try:
        while True:
            body: dict[str, Any] = {"query": query, "sort": [*sort, {"_shard_doc": "asc"}], "size": page}
            if total is None:
                body["track_total_hits"] = True
            if after is not None:
                body["search_after"] = after
            resp = es.search(pit={"id": pit, "keep_alive": "2m"}, **body, **extra)
            pit = resp.get("pit_id", pit)
            if total is None:
                total = resp["hits"]["total"]["value"]
            hits = resp["hits"]["hits"]
            for h in hits:
                yield h, total
            if len(hits) < page:
                return
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)


def _print_hit(hit: dict, hits: list, as_json: bool, brief: bool) -> None:
    from rich.text import Text

    from wirewatch import display

    src = hit["_source"]
    if as_json:
        out.print(json.dumps(src, ensure_ascii=False), markup=False, highlight=False)
        return
    if brief:
        line = Text(hit["_id"], "bold")
        line.append("  " + (src.get("@timestamp") or "")[:19].replace("T", " "), "cyan")
        line.append("  " + (src.get("title") or "(no headline)"))
        out.print(line)
        return
    story = _story(hit)
    title = [(h.start, h.end) for h in hits if h.field == "title"]
    body = [(h.start, h.end) for h in hits if h.field == "body"]
    for line in display.story_lines(story, tuple(src.get("rules") or ()), title, body):
        out.print(line)
    out.print(Text(f"  {hit['_id']} v{src.get('version', 1)}  {src.get('source', '')}", "dim"))


def _story(hit: dict):
    from datetime import datetime

    from wirewatch.model import Story

    src = hit["_source"]
    try:
        when = datetime.fromisoformat(src["@timestamp"]) if src.get("@timestamp") else None
    except ValueError:
        when = None
    # Shown, not validated: the document was a valid story when it was indexed.
    return Story.model_construct(
        id=src.get("story_id") or hit["_id"], source=src.get("source") or "", title=src.get("title") or "",
        body=src.get("body") or "", published=when, received=when,
    )


def _summary(index: str, plan: _Plan, exact: bool, every: bool, shown: int, checked: int, total: int, legacy: int) -> None:
    def say(text: str) -> None:
        console.print(f"[dim]{escape(text)}[/]", soft_wrap=True)

    if exact and not every:
        say(f"{total} stories in {index}; showing {shown}")
    elif every:
        say(f"{shown} stories in {index} match ({checked} candidates checked)")
    else:
        say(f"showing {shown}; {checked} of {total} candidates in {index} checked (--all counts the matches exactly)")
    if plan.translation is not None:
        for note in plan.translation.prefiltered:
            say(f"prefiltered: {note}")
    if legacy:
        say(
            f"{legacy} stories in {index} were indexed without the token fields (by an older WireWatch): "
            "every one is a candidate, checked by the matcher"
        )


def _print_dsl(plan: _Plan, filters: list[dict]) -> None:
    from wirewatch.query.to_es import candidates_query

    if plan.empty:
        query: dict = {"bool": {"must": [{"match_all": {}}], "filter": filters}}
    else:
        query = {"bool": {"must": [candidates_query(plan.translation, plan.expr, without_words=False)], "filter": filters}}
    out.print(json.dumps({"query": query}, indent=2, ensure_ascii=False), markup=False, highlight=False)
    if plan.translation is None:
        return
    if plan.translation.exact:
        console.print("exact: on stories indexed with token fields, Elasticsearch matches what the matcher matches", soft_wrap=True)
    for note in plan.translation.prefiltered:
        console.print(f"prefiltered: {note}", markup=False, soft_wrap=True)
    console.print(
        "stories indexed without token fields (by an older WireWatch), if the index holds any, "
        "are all candidates, checked by the matcher",
        soft_wrap=True,
    )


# -- --es: Elasticsearch's own query string ------------------------------------------------


def _search_es(s, text: str, filters: list[dict], size: int, newest: bool, as_json: bool, every: bool, show_dsl: bool) -> None:
    from streams import elastic
    from wirewatch.query.to_es import WORDS

    must: list[dict] = []
    if text.strip():
        must.append({"simple_query_string": {"query": text, "fields": ["title^2", "body"], "default_operator": "and"}})
    query = {"bool": {"must": must or [{"match_all": {}}], "filter": filters}}
    if show_dsl:
        out.print(json.dumps({"query": query}, indent=2, ensure_ascii=False), markup=False, highlight=False)
        return
    sort = [{"@timestamp": {"order": "desc"}}] if newest or not text.strip() else None
    es = elastic.sync_client(s)
    try:
        if every:
            shown = 0
            for hit, _ in _candidates(es, s.index, query, sort or [{"_score": {"order": "desc"}}], PAGE, _source_excludes=[WORDS]):
                shown += 1
                _print_hit(hit, [], as_json, brief=not as_json)
            console.print(f"[dim]{shown} stories in {s.index}[/]")
            return
        body = {
            "query": query,
            "highlight": {
                "pre_tags": [_PRE],
                "post_tags": [_POST],
                "fields": {"title": {"number_of_fragments": 0}, "body": {"fragment_size": 160, "number_of_fragments": 2}},
            },
            "size": size,
            "track_total_hits": True,
        }
        if sort:
            body["sort"] = sort
        resp = es.search(index=s.index, **body, _source_excludes=[WORDS])
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
    from rich.text import Text

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
