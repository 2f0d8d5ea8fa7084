"""Benchmark: the matcher on the Reuters corpus at 100 … 100,000 rules, against one regex per rule.

    .venv/bin/python benchmarks/match_bench.py                 # the table in benchmarks/README.md
    .venv/bin/python benchmarks/match_bench.py --sizes 100,1000 --runs 1
    .venv/bin/python benchmarks/match_bench.py --write-rules 10000 /tmp/rules-10k.yaml
    .venv/bin/python benchmarks/match_bench.py --agree 200   # matcher == regex on every story
    .venv/bin/python benchmarks/match_bench.py --sizes 100,100000 --repeat 5 --baseline-max 0
    .venv/bin/python benchmarks/match_bench.py --engine python   # the pure-Python matcher

Each size runs in a fresh process, so "peak RSS" is that size's own (it
includes the 18,000 stories held in memory); "matcher MB" is what building
the matcher added.  "change ms" is one live change (remove or add a rule)
followed by matching a story.  Rules
come from `rulegen.py` with a fixed seed; smaller sets are prefixes of
larger ones.  Throughput is `Matcher.match(title, body)` over every story,
the median of `--runs` passes.  With `--repeat N` every size is measured N
times, the sizes taking turns (so that each sees the same load on a shared
machine), and each row is the run with the median throughput.  The regex
baseline runs on an evenly spaced sample of stories (it is slow) and must
give the same rule ids as the matcher on every one of them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from producers.sources import read_stories  # noqa: E402
from wirewatch.query import Matcher  # noqa: E402


def corpus_dir(arg: str | None) -> Path:
    path = Path(arg or os.environ.get("WIREWATCH_CORPUS_DIR") or HERE.parent.parent / "shared" / "corpus")
    if not (path / "reuters21578").is_dir():
        sys.exit(f"no Reuters corpus under {path}; pass --corpus or set WIREWATCH_CORPUS_DIR")
    return path


def load_stories(corpus: Path):
    return list(read_stories(sorted((corpus / "reuters21578").glob("*.sgm"))))


def make_rules(corpus: Path, n: int, seed: int) -> list[tuple[str, str]]:
    from rulegen import Corpus, RuleGenerator

    return RuleGenerator(Corpus(load_stories(corpus)), seed).rules(n)


def rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one_size(rules_file: Path, n: int, corpus: Path, runs: int, baseline_max: int, engine: str | None) -> dict:
    """Measure one rule-set size in this process; returns the row as a dict."""
    stories = load_stories(corpus)
    pairs = [(s.title, s.body) for s in stories]
    megabytes = sum(len(t.encode()) + len(b.encode()) for t, b in pairs) / 1e6
    rules = [tuple(r) for r in json.loads(rules_file.read_text())[:n]]
    before = current_rss_mb()

    started = time.perf_counter()
    matcher = Matcher.from_rules(rules, engine=engine)
    matcher.match("", "")  # builds the automaton (pure-Python engine)
    build = time.perf_counter() - started
    matcher_mb = current_rss_mb() - before

    # A live rule change: remove a rule, match a story, put it back, match again.
    title, body = pairs[0]
    started = time.perf_counter()
    for rule_id, query in rules[:: max(1, n // 100)][:100]:
        matcher.remove(rule_id)
        matcher.match(title, body)
        matcher.add(rule_id, query)
        matcher.match(title, body)
    change_ms = (time.perf_counter() - started) / (2 * min(100, len(rules))) * 1000

    times, results = [], []
    for _ in range(runs):
        started = time.perf_counter()
        results = [matcher.match(t, b) for t, b in pairs]
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    row = {
        "rules": n,
        "engine": matcher.engine,
        "build_s": build,
        "stories_per_s": len(pairs) / seconds,
        "mb_per_s": megabytes / seconds,
        "matches_per_story": sum(map(len, results)) / len(pairs),
        "stories_matched": sum(1 for r in results if r) / len(pairs),
        "matcher_mb": matcher_mb,
        "change_ms": change_ms,
        "peak_rss_mb": rss_mb(),
    }
    if n <= baseline_max:
        from regex_baseline import RegexMatcher

        started = time.perf_counter()
        baseline = RegexMatcher(rules)
        row["regex_build_s"] = time.perf_counter() - started
        step = max(1, len(pairs) // max(50, min(3000, 200_000 // n)))
        sample = list(range(0, len(pairs), step))
        started = time.perf_counter()
        answers = [baseline.match(*pairs[i]) for i in sample]
        row["regex_stories_per_s"] = len(sample) / (time.perf_counter() - started)
        row["regex_sample"] = len(sample)
        row["regex_disagreements"] = sum(1 for i, a in zip(sample, answers) if a != results[i])
    return row


# Hand-written rules that exercise every construct, added to --agree runs.
TRICKY = [
    ("t-lethal", '"lethal aid" OR ((deadly OR lethal) NEAR/2 (aid OR weapons))'),
    ("t-opec", "OPEC NEAR/5 (cut* OR quota*) -Iran"),
    ("t-title-not-near", "title:(oil OR opec) NOT (crude NEAR/1 price*)"),
    ("t-mixed-fields", '(title:cocoa OR body:coffee) NEAR/3 (export* OR "buffer stock")'),
    ("t-us-dollar", "U.S. NEAR/0 (dollar OR treasury)"),
    ("t-de-morgan", "NOT (NOT wheat OR NOT maize)"),
    ("t-self-near", "mln NEAR/0 mln"),
    ("t-body-title", "body:(pct -year) title:rate*"),
    ("t-exclude-group", "(said NEAR/2 it) -(company OR bank)"),
    ("t-punctuation", '10:30 OR 1,750 OR "1987"'),
]


def agree(rules_file: Path, n: int, corpus: Path, engine: str | None) -> None:
    """Compare the matcher with the regex baseline on every story; exit 1 on any difference."""
    from regex_baseline import RegexMatcher

    rules = [tuple(r) for r in json.loads(rules_file.read_text())[:n]] + TRICKY
    fast, slow = Matcher.from_rules(rules, engine=engine), RegexMatcher(rules)
    differ = matches = 0
    stories = load_stories(corpus)
    for story in stories:
        a, b = fast.match(story.title, story.body), slow.match(story.title, story.body)
        matches += len(a)
        if a != b:
            differ += 1
            print(f"{story.id}: matcher {a} regex {b}", file=sys.stderr)
    print(f"{fast.engine} matcher, {len(rules)} rules, {len(stories)} stories, {matches} matches: {differ} stories differ")
    sys.exit(1 if differ else 0)


def table(rows: list[dict], markdown: bool) -> None:
    head = ["rules", "build s", "change ms", "stories/s", "MB/s", "matches/story", "stories matched", "matcher MB",
            "peak RSS MB",
            "regex stories/s (sample)", "speed-up", "regex agrees"]
    lines = []
    for r in rows:
        regex = "regex_stories_per_s" in r
        lines.append([
            f"{r['rules']:,}", f"{r['build_s']:.2f}", f"{r['change_ms']:.2f}", f"{r['stories_per_s']:,.0f}",
            f"{r['mb_per_s']:.1f}", f"{r['matches_per_story']:.2f}", f"{r['stories_matched']:.1%}",
            f"{r['matcher_mb']:,.0f}", f"{r['peak_rss_mb']:,.0f}",
            f"{r['regex_stories_per_s']:,.1f} ({r['regex_sample']})" if regex else "–",
            f"{r['stories_per_s'] / r['regex_stories_per_s']:,.0f}x" if regex else "–",
            ("yes" if not r["regex_disagreements"] else f"NO: {r['regex_disagreements']} stories differ") if regex else "–",
        ])
    if markdown:
        print(f"{rows[0]['engine']} engine\n")
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"wirewatch matcher ({rows[0]['engine']} engine), Reuters-21578 (18,000 stories)")
    for h in head:
        t.add_column(h, justify="right")
    for line in lines:
        t.add_row(*line)
    Console(width=200).print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,10000,100000")
    ap.add_argument("--seed", type=int, default=21578)
    ap.add_argument("--runs", type=int, default=3, help="passes over the corpus per size; the median is reported")
    ap.add_argument("--baseline-max", type=int, default=10_000, help="largest rule set the regex baseline runs on")
    ap.add_argument("--corpus", help="corpus folder (default: WIREWATCH_CORPUS_DIR or ../shared/corpus)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--engine", choices=["native", "python"], help="matcher engine (default: native when built)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure every size this many times, sizes taking turns; report the median run")
    ap.add_argument("--write-rules", nargs=2, metavar=("N", "PATH"), help="write N generated rules as a rules file and exit")
    ap.add_argument("--agree", type=int, metavar="N", help="check N generated rules and some hand-written ones against the regex baseline on every story")
    ap.add_argument("--one", nargs=2, metavar=("N", "RULES_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    corpus = corpus_dir(args.corpus)

    if args.one:
        row = one_size(Path(args.one[1]), int(args.one[0]), corpus, args.runs, args.baseline_max, args.engine)
        print(json.dumps(row))
        return
    if args.agree:
        with tempfile.TemporaryDirectory() as tmp:
            rules_file = Path(tmp) / "rules.json"
            rules_file.write_text(json.dumps(make_rules(corpus, args.agree, args.seed)))
            agree(rules_file, args.agree, corpus, args.engine)
    if args.write_rules:
        import yaml

        rules = make_rules(corpus, int(args.write_rules[0]), args.seed)
        doc = {"rules": [{"id": i, "query": q} for i, q in rules]}
        Path(args.write_rules[1]).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    rules = make_rules(corpus, max(sizes), args.seed)
    print(f"generated {len(rules):,} rules in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runs: dict[int, list[dict]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.json"
        rules_file.write_text(json.dumps(rules))
        for turn in range(args.repeat):
            for n in sizes:
                cmd = [sys.executable, __file__, "--one", str(n), str(rules_file), "--runs", str(args.runs),
                       "--baseline-max", str(args.baseline_max if turn == 0 else 0), "--corpus", str(corpus)]
                if args.engine:
                    cmd += ["--engine", args.engine]
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                runs[n].append(json.loads(done.stdout))
                print(f"{n:,} rules: {runs[n][-1]['stories_per_s']:,.0f} stories/s", file=sys.stderr)
    rows = [_median_run(runs[n]) for n in sizes]
    table(rows, args.markdown)
    if 100 in sizes and 100_000 in sizes:
        by = {r["rules"]: r for r in rows}
        print(f"\nthroughput at 100,000 rules / at 100 rules: {by[100_000]['stories_per_s'] / by[100]['stories_per_s']:.2f}")
        if args.repeat > 1:
            ratios = sorted(b["stories_per_s"] / a["stories_per_s"] for a, b in zip(runs[100], runs[100_000]))
            print("per turn (100 and 100,000 rules measured one after the other): " + ", ".join(f"{r:.2f}" for r in ratios))


def _median_run(runs: list[dict]) -> dict:
    """The run with the median throughput, with the regex columns of the first run (the only one that has them)."""
    row = dict(sorted(runs, key=lambda r: r["stories_per_s"])[len(runs) // 2])
    row.update({k: v for k, v in runs[0].items() if k.startswith("regex_")})
    return row


if __name__ == "__main__":
    main()
