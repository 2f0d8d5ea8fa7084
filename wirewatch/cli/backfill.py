"""`rules apply --backfill SINCE`: the applied rules' ids added to stories already indexed.

Which stories change and how they are written is `wirewatch.backfill`
(pure); reading and writing is `streams.archive`.  Every rule of the file
is checked against every story since SINCE, not only the rules this apply
added or changed: ids already there are not written again, so this costs
a read, and a backfill that was interrupted (Ctrl-C, a lost connection)
is completed by running the same command again.
"""

from __future__ import annotations

import time
from collections import Counter

from rich.markup import escape

from .common import console, since_option

PAGE = 1000
SHOW_FAILED = 5


def since_of(text: str):
    """The time a --backfill SINCE names; ConfigError when it names none."""
    return since_option(text, "--backfill")


def run(s, rules, start, dry_run: bool = False) -> None:
    """Add the ids of `rules` to the `rules` of every story indexed since `start` that they match."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from streams import archive
    from wirewatch import backfill
    from wirewatch.errors import PermanentError
    from wirewatch.query import Matcher
    from wirewatch.query.to_es import WORDS

    engine = None if s.matcher_engine == "auto" else s.matcher_engine
    matcher = Matcher.from_rules([(r.id, r.query) for r in rules], engine=engine)
    es = archive.client(s)
    read = written = newer = 0
    added: Counter = Counter()
    failed: list[str] = []
    began = time.perf_counter()
    try:
        words_in = archive.indices_with_field(es, s.index, WORDS)
        query = archive.since_query(start)
        total = archive.count(es, s.index, query)
        progress = Progress(
            TextColumn("backfill {task.fields[index]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[written]}"), TimeRemainingColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        with progress:
            task = progress.add_task("backfill", total=total, index=s.index, written="")
            for hits in archive.pages(es, s.index, query, size=PAGE, source=True, version=True):
                read += len(hits)
                found = matcher.match_many([(h["_source"].get("title") or "", h["_source"].get("body") or "") for h in hits])
                todo = backfill.plan(hits, found, words_in)
                if dry_run:
                    for _, ids in todo:
                        added.update(ids)
                    written += len(todo)
                elif todo:
                    items = archive.bulk(es, [line for ops, _ in todo for line in ops])
                    for (ops, ids), item in zip(todo, items):
                        kind, reason = backfill.outcome(item)
                        if kind == "written":
                            written += 1
                            added.update(ids)
                        elif kind == "newer":
                            newer += 1
                        else:
                            failed.append(f"{ops[0]['index']['_id']}: {reason}")
                progress.update(task, advance=len(hits), written=f"{written:,} stories {'to update' if dry_run else 'updated'}")
    except Exception as exc:
        raise archive.problem(exc, s, s.index, "backfill") from exc
    finally:
        es.close()
    seconds = time.perf_counter() - began
    verb = "would gain" if dry_run else "gained"
    console.print(
        f"backfill of {escape(s.index)} since {start:%Y-%m-%d %H:%M}Z: {read:,} stories read and matched against "
        f"{len(rules):,} rules in {seconds:.1f} s; {written:,} {verb} rule ids"
        + (f" ({sum(added.values()):,} ids: " + ", ".join(f"{escape(r)} {n:,}" for r, n in added.most_common(8))
           + (" …" if len(added) > 8 else "") + ")" if added else ""),
        soft_wrap=True,
    )
    if newer:
        console.print(f"{newer:,} stories had a newer version indexed meanwhile (the workers matched it with the live rules): left as they are")
    if failed:
        for line in failed[:SHOW_FAILED]:
            console.print(f"[red]not updated[/] {escape(line)}", soft_wrap=True)
        raise PermanentError(f"{len(failed):,} stories not updated; run the same command again to complete the backfill")
