"""Benchmark: `wirewatch rules backtest` over the indexed Reuters corpus, at 12 and 1,000 rules.

    .venv/bin/python benchmarks/backtest_bench.py                # the table in benchmarks/README.md
    .venv/bin/python benchmarks/backtest_bench.py --copies 1 --runs 1
    .venv/bin/python benchmarks/backtest_bench.py --markdown

Against the local Elasticsearch (`wirewatch services up`, or
WIREWATCH_ES_URL).  The 18,000 Reuters-21578 stories (`../shared/corpus` or
WIREWATCH_CORPUS_DIR) are indexed `--copies` times (each copy's story ids
apart, the same times) into an index of this run's own, with the index
stage's own document builder (`streams.indexing`), and deleted afterwards
(`--keep` keeps it).  Rule sets: the 12 example rules, and 1,000 rules
from `rulegen.py` (the matcher benchmark's, fixed seed) each with an email
subscriber (so the alert simulation runs for every match, as it would for
a real rules file).

Each run is the real command, `wirewatch rules backtest RULES --since
100000d --json`, in a fresh process; its figure is the one the command
itself reports: stories read and matched per second, from opening the
point in time to the last page matched (the process's start-up and the
rules file's loading are not in it; its total wall time is given apart).
The rule sets take turns (so that both see the same load on a shared
machine); each row is the median of `--runs` runs, with the time of it
spent waiting for Elasticsearch (the rest is matching and the alert
simulation), and each run is printed with the load average it ran under.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from producers.sources import read_stories  # noqa: E402


def corpus_dir(arg: str | None) -> Path:
    path = Path(arg or os.environ.get("WIREWATCH_CORPUS_DIR") or ROOT.parent / "shared" / "corpus")
    if not (path / "reuters21578").is_dir():
        sys.exit(f"no Reuters corpus under {path}; pass --corpus or set WIREWATCH_CORPUS_DIR")
    return path


def fill(es_url: str, index: str, stories, copies: int) -> int:
    from streams import elastic
    from streams.indexing import bulk_operations, doc_of
    from wirewatch.model import MatchedStory
    from wirewatch.settings import Settings

    es = elastic.sync_client(Settings(index=index, es_url=es_url))
    try:
        elastic.ensure_index_sync(es, index)
        n = 0
        for copy in range(copies):
            batch = [s if copy == 0 else s.model_copy(update={"id": f"{s.id}#{copy}"}) for s in stories]
            for at in range(0, len(batch), 1000):
                ops = bulk_operations([doc_of(MatchedStory(story=s)) for s in batch[at : at + 1000]], index)
                resp = es.bulk(operations=ops, refresh=False)
                if resp["errors"]:
                    sys.exit(f"indexing failed: {[i for i in resp['items'] if i['index'].get('error')][:2]}")
                n += len(ops) // 2
        es.indices.refresh(index=index)
        es.indices.forcemerge(index=index, max_num_segments=1)
        return n
    finally:
        es.close()


def drop(es_url: str, index: str) -> None:
    from streams import elastic
    from wirewatch.settings import Settings

    es = elastic.sync_client(Settings(index=index, es_url=es_url))
    try:
        es.options(ignore_status=404).indices.delete(index=index)
        es.options(ignore_status=404).indices.delete_index_template(name=elastic.template_name(index))
    finally:
        es.close()


def write_rules(path: Path, stories, n: int, seed: int) -> None:
    from rulegen import Corpus, RuleGenerator

    rules = RuleGenerator(Corpus(stories), seed).rules(n)
    with path.open("w") as fh:
        for rule_id, query in rules:
            fh.write(json.dumps({"id": rule_id, "query": query, "subscribers": [{"email": "desk@example.com"}]}) + "\n")


def run_once(es_url: str, index: str, rules: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    env.update(WIREWATCH_ES_URL=es_url, WIREWATCH_INDEX=index)
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "wirewatch", "rules", "backtest", str(rules), "--since", "100000d", "--json"],
        env=env, capture_output=True, text=True, timeout=1800,
    )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        sys.exit(f"backtest failed ({proc.returncode}): {proc.stderr.strip()}")
    doc = json.loads(proc.stdout)
    return {
        "stories": doc["stories"],
        "rules": len(doc["rules"]),
        "seconds": doc["seconds"],
        "rate": doc["stories_per_second"],
        "wait": doc["waiting_for_elasticsearch_seconds"],
        "load": os.getloadavg()[0],
        "wall": wall,
        "matches": sum(r["matches"] for r in doc["rules"]),
        "alerts": sum(len(s["alerts"]) for r in doc["rules"] for s in r["subscribers"]),
        "engine": doc["engine"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=5, help="times the 18,000 stories are indexed (default 5: 90,000 stories)")
    ap.add_argument("--rules", type=int, default=1000, help="generated rules (default 1,000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per rule set; the median is reported")
    ap.add_argument("--seed", type=int, default=21578)
    ap.add_argument("--corpus", help="corpus folder (default: WIREWATCH_CORPUS_DIR or ../shared/corpus)")
    ap.add_argument("--index", help="use this index as it is (already filled) instead of filling one")
    ap.add_argument("--keep", action="store_true", help="keep the index this run filled")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()

    es_url = os.environ.get("WIREWATCH_ES_URL", "http://127.0.0.1:9200")
    stories = list(read_stories(sorted((corpus_dir(args.corpus) / "reuters21578").glob("*.sgm"))))
    index = args.index or f"bench-backtest-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / f"rules-{args.rules}.jsonl"
        write_rules(generated, stories, args.rules, args.seed)
        try:
            if not args.index:
                began = time.perf_counter()
                n = fill(es_url, index, stories, args.copies)
                print(f"indexed {n:,} stories into {index} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            sets = (("12 (examples/rules.yaml)", ROOT / "examples" / "rules.yaml"), (f"{args.rules:,} (generated)", generated))
            runs: dict[str, list[dict]] = {label: [] for label, _ in sets}
            # The rule sets take turns, so that each sees the same load on a shared machine.
            for _ in range(args.runs):
                for label, path in sets:
                    r = run_once(es_url, index, path)
                    runs[label].append(r)
                    print(f"  {label}: {r['rate']:,} stories/s ({r['seconds']:.2f} s, {r['wait']:.2f} s of it waiting for "
                          f"Elasticsearch; process wall {r['wall']:.2f} s; load average {r['load']:.1f})", file=sys.stderr)
            rows = [(label, sorted(rs, key=lambda r: r["rate"])[len(rs) // 2], [r["rate"] for r in rs]) for label, rs in runs.items()]
        finally:
            if not args.index and not args.keep:
                drop(es_url, index)
    head = ["rules", "stories", "read+matched s", "of it waiting for ES s", "stories/s (median)", "runs stories/s", "process wall s", "matches", "alerts"]
    lines = []
    for label, r, rates in rows:
        lines.append([label, f"{r['stories']:,}", f"{r['seconds']:.2f}", f"{r['wait']:.2f}", f"{r['rate']:,}", " / ".join(f"{x:,}" for x in rates),
                      f"{r['wall']:.2f}", f"{r['matches']:,}", f"{r['alerts']:,}"])
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join("---" for _ in head) + " |")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        for line in [head, *lines]:
            print("  ".join(f"{c:>18}" for c in line))
    print(f"median of {args.runs} runs; engine {rows[0][1]['engine']}; {os.cpu_count()} CPUs", file=sys.stderr)


if __name__ == "__main__":
    main()
