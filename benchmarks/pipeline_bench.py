"""The running pipeline against the ceiling of each stage, measured side by side in one run.

    .venv/bin/python benchmarks/pipeline_bench.py            # the whole table (make bench-pipeline)
    .venv/bin/python benchmarks/pipeline_bench.py --quick    # fewer sizes and stories, a smoke run

Against the local Kafka and Elasticsearch (`wirewatch services up`, or
WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL), with the Reuters-21578 corpus
(`../shared/corpus` or WIREWATCH_CORPUS_DIR) and rules generated as the
matcher benchmark does (`rulegen.py`, fixed seed).  Every run gets topics,
an index and a consumer group of its own, and deletes them afterwards.

For each rule-set size and share of rules with subscribers (email to a real
SMTP server: `wirewatch alerts smtp-sink` in a process of its own):

- `rules check` and `rules apply` of the rules file: seconds and peak RSS;
- **produce**: the corpus onto the stories topic with kafka-python, as
  `wirewatch produce` sends (acks=all, idempotent) - a ceiling, and the backlog;
- **consume**: the backlog read back with aiokafka (the client Faust uses)
  and each value decoded as JSON - the ceiling of the worker's input;
- **bulk**: the documents the worker writes for the same stories (with the
  ids of the rules each matches, and the time of the request), written to
  a scratch index by one elasticsearch-py client, 500 per request - the
  ceiling of its output;
- **drain**: `wirewatch worker` process(es) started on the backlog, timed
  from the first story matched (the first message on the matched topic) to
  the last one indexed, so both stages are in it (read every 0.1 s from the
  index's statistics, as the bulk ceiling counts a request done when its
  answer comes, before a refresh; a count at the end checks that every
  story is in the index once); the start-up before is
  given apart (process start to first story matched); drain / bulk is the
  figure the targets are about.  With `--metrics on,off` each drain runs
  with the workers' metrics endpoint on (scraped every second, fifteen
  times Prometheus's usual pace) and off, and a last table gives the cost
  of metrics: worker CPU per story and drain rate, on against off.

Then paced runs: stories produced at a fixed rate into a running worker,
with latencies from the story's `received` time (set as it is sent) to its
`matched_at` and `indexed_at` in the index and to the arrival of an instant
alert about it at the SMTP server; and the backlog left when pacing ends.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.parser import BytesParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from producers.sources import read_stories  # noqa: E402
from wirewatch.model import Story  # noqa: E402
from wirewatch.settings import Settings  # noqa: E402

PARTITIONS = 4
RULES_FORMAT = "jsonl"  # --rules-format
PROFILE_DIR: Path | None = None  # --profile


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- inputs


def corpus_dir(arg: str | None) -> Path:
    path = Path(arg or os.environ.get("WIREWATCH_CORPUS_DIR") or ROOT.parent / "shared" / "corpus")
    if not (path / "reuters21578").is_dir():
        sys.exit(f"no Reuters corpus under {path}; pass --corpus or set WIREWATCH_CORPUS_DIR")
    return path


def rules_file(rules: list[tuple[str, str]], share: float, path: Path) -> Path:
    """A rules file (JSON Lines, or YAML for a .yaml path): `share` of the rules, spread evenly, with an email subscriber."""
    every = round(1 / share) if share > 0 else 0
    out = []
    for i, (rule_id, query) in enumerate(rules):
        rule: dict = {"id": rule_id, "query": query}
        if every and i % every == 0:
            # A desk's usual flood limit: a few instant alerts an hour, then one summary.
            rule["subscribers"] = [{"email": f"desk{i % 50}@example.com"}]
            rule["realert"] = {"max": 3, "minutes": 60}
        out.append(rule)
    if path.suffix == ".yaml":
        import yaml

        path.write_text(yaml.dump({"rules": out}, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in out))
    return path


# ---------------------------------------------------------------- processes


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    return {**env, **settings.as_env(), "PYTHONUNBUFFERED": "1"}


# A small process runs the command and reports its peak RSS: measured from
# this (large) process, a child's ru_maxrss would start at this one's size,
# which exec() carries over.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
print(f"\\npeak-rss-kb={usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_command(settings: Settings, *args: str) -> tuple[float, float, int, str]:
    """Run `wirewatch ARGS`; (seconds, peak RSS MB, exit code, output)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, "-m", "wirewatch", *args], env=env_for(settings),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t0
    out = proc.stdout.decode(errors="replace")
    peak = float(out.rsplit("peak-rss-kb=", 1)[1].split()[0]) / 1024 if "peak-rss-kb=" in out else 0.0
    return seconds, peak, proc.returncode, out


class Worker:
    def __init__(self, settings: Settings, log_path: Path, metrics_port: int = 0) -> None:
        self.log_path = log_path
        self._fh = open(log_path, "wb")
        self.started = time.monotonic()
        self.metrics_port = metrics_port
        settings = settings.model_copy(update={"metrics_port": metrics_port, "metrics_host": "127.0.0.1"})
        self.proc = subprocess.Popen([sys.executable, "-m", "wirewatch", "worker", "--loglevel", "warning"],
                                     env=env_for(settings), stdout=self._fh, stderr=subprocess.STDOUT)

    def rss_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory."""
        now = peak = 0.0
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        now = int(line.split()[1]) / 1024
                    elif line.startswith("VmHWM:"):
                        peak = int(line.split()[1]) / 1024
        except FileNotFoundError:
            pass
        return now, peak

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, IndexError):
            return 0.0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()


class MailServer:
    """`wirewatch alerts smtp-sink` in its own process; every message a file in a maildir."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self.maildir = folder
        self.log_path = folder.parent / "smtp-sink.log"
        self._fh = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wirewatch", "alerts", "smtp-sink", "--port", str(settings.smtp_port), "--maildir", str(folder)],
            env=env_for(settings), stdout=self._fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "SMTP sink on" not in self.log_path.read_text(errors="replace"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the SMTP sink did not start: {self.log_path.read_text()}")
            time.sleep(0.1)

    def messages(self) -> list[tuple[float, dict]]:
        """(arrival time, headers) of every message so far."""
        out = []
        new = self.maildir / "new"
        if not new.is_dir():
            return out
        parser = BytesParser(policy=policy.default)
        for path in new.iterdir():
            try:
                arrived = path.stat().st_mtime
                with open(path, "rb") as fh:
                    msg = parser.parse(fh, headersonly=True)
            except FileNotFoundError:
                continue
            out.append((arrived, {k: str(v) for k, v in msg.items()}))
        return out

    def arrivals(self) -> list[float]:
        """When each message so far arrived (its file's time), without reading the files."""
        new = self.maildir / "new"
        if not new.is_dir():
            return []
        out = []
        for entry in os.scandir(new):
            try:
                out.append(entry.stat().st_mtime)
            except FileNotFoundError:
                continue
        return out

    def settled(self, quiet: float = 3.0, longest: float = 300.0) -> list[float]:
        """Arrival times once no message has arrived for `quiet` seconds (the alert stage is done)."""
        deadline = time.monotonic() + longest
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self.arrivals())
            if count != seen:
                seen, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.5)
        return self.arrivals()

    def clear(self) -> None:
        # The files only: the sink writes through tmp/ into new/, and without
        # those folders every message after this would be refused.
        for sub in ("new", "cur"):
            for path in (self.maildir / sub).glob("*"):
                path.unlink(missing_ok=True)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self._fh.close()


# ---------------------------------------------------------------- ceilings


def produce(settings: Settings, stories: list[Story], rate: float | None = None) -> tuple[float, list[Story]]:
    """Send every story with kafka-python as `wirewatch produce` does; (stories/s, what was sent).

    Each story's `received` is stamped as it is sent, so paced runs can
    measure latencies from it.
    """
    from producers.kafka_sink import StorySink

    sent: list[Story] = []
    t0 = time.perf_counter()
    with StorySink(settings) as sink:
        for i, story in enumerate(stories):
            if rate:
                due = t0 + i / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            stamped = story.model_copy(update={"received": datetime.now(timezone.utc)})
            sink.send(stamped)
            sent.append(stamped)
        sink.flush()
        if sink.failed:
            raise RuntimeError(f"{sink.failed} stories were not acknowledged by Kafka")
    return len(stories) / (time.perf_counter() - t0), sent


def consume_ceiling(settings: Settings, expected: int) -> float:
    """aiokafka reading the whole stories topic, each value decoded as JSON; stories/s."""
    import orjson
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(settings.stories_topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            seen = 0
            t0 = time.perf_counter()
            while seen < expected:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for records in batch.values():
                    for r in records:
                        orjson.loads(r.value)
                        seen += 1
            return seen / (time.perf_counter() - t0)
        finally:
            await consumer.stop()

    return asyncio.run(run())


@functools.lru_cache(maxsize=1)  # one rule set at a time: 100,000 rules take a few hundred MB
def _matcher(rules: tuple[tuple[str, str], ...], engine: str):
    from wirewatch.query.matcher import Matcher

    return Matcher.from_rules(rules, engine=None if engine == "auto" else engine)


def worker_documents(stories: list[Story], rules: list[tuple[str, str]], engine: str) -> list:
    """The index documents the worker writes for these stories: each with the ids of the rules it matches."""
    from streams.indexing import doc_of
    from streams.matching import match_story

    matcher = _matcher(tuple(map(tuple, rules)), engine)
    return [doc_of(match_story(matcher, s)[0]) for s in stories]


def bulk_ceiling(settings: Settings, stories: list[Story], rules: list[tuple[str, str]]) -> float:
    """One elasticsearch-py client writing the worker's documents of the stories, 500 per request; stories/s."""
    from streams import elastic
    from streams.indexing import bulk_operations

    index = f"{settings.index}-ceiling"
    items = worker_documents(stories, rules, settings.matcher_engine)
    es = elastic.sync_client(settings)
    try:
        es.indices.create(index=index)  # the run's index template (for name-*) gives it the same mapping
        t0 = time.perf_counter()
        for i in range(0, len(items), 500):
            # Stamped as the worker stamps each request.
            response = es.bulk(operations=bulk_operations(items[i:i + 500], index, datetime.now(timezone.utc)))
            if response.get("errors"):
                raise RuntimeError("the ceiling's bulk request had errors")
        rate = len(items) / (time.perf_counter() - t0)
        es.indices.delete(index=index, ignore_unavailable=True)
        return rate
    finally:
        es.close()


# ---------------------------------------------------------------- runs


@dataclass
class Run:
    settings: Settings
    folder: Path
    workers: list[Worker] = field(default_factory=list)

    def es(self):
        from streams import elastic

        return elastic.sync_client(self.settings)

    def indexed(self, es) -> int:
        if not es.indices.exists(index=self.settings.index):
            return 0
        es.indices.refresh(index=self.settings.index)
        return es.count(index=self.settings.index)["count"]

    def written(self, es) -> int:
        """Documents Elasticsearch has taken into the index (searchable at its next refresh).

        Read from the index's statistics, not counted: a count needs a
        refresh, and a refresh forced twice a second during a drain made
        Elasticsearch merge more, at a cost the bulk ceiling does not pay.
        """
        if not es.indices.exists(index=self.settings.index):
            return 0
        stats = es.indices.stats(index=self.settings.index, metric="indexing")
        return stats["_all"]["primaries"]["indexing"]["index_total"]

    def messages(self) -> dict[str, int]:
        """Messages on each of this run's topics so far (end offsets summed over partitions), by short name."""
        from kafka import KafkaConsumer, TopicPartition

        from wirewatch import kafka_clients

        prefixes = (f"{self.settings.topic_prefix}.", f"{self.settings.app_id}-")
        admin = kafka_clients.admin(self.settings)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(prefixes)]
        finally:
            admin.close()
        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap.split(","))
        try:
            counts = {}
            for topic in mine:
                tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
                short = topic.removeprefix(prefixes[0]).removeprefix(prefixes[1])
                counts[short] = sum(consumer.end_offsets(tps).values()) if tps else 0
            return counts
        finally:
            consumer.close()

    def notes(self) -> dict[str, int]:
        """What the workers' logs say happened that should be rare: messages Faust skipped (read back), parked ones."""
        text = "".join(w.log_path.read_text(errors="replace") for w in self.workers if w.log_path.exists())
        read_back = re.findall(r"(\d+) message\(s\) of \S+ at offsets \S+ never reached the stream", text)
        return {"read back": sum(map(int, read_back)), "parked": text.count(": parked ")}

    def cleanup(self) -> None:
        from wirewatch import kafka_clients

        for w in self.workers:
            w.stop()
        es = self.es()
        try:
            for index in (self.settings.index, f"{self.settings.index}-ceiling"):
                es.indices.delete(index=index, ignore_unavailable=True)
            es.options(ignore_status=404).indices.delete_index_template(name=f"{self.settings.index}-template")
        finally:
            es.close()
        admin = kafka_clients.admin(self.settings)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(self.settings.topic_prefix) or t.startswith(self.settings.app_id)]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()


def new_run(base: Settings, home: Path, label: str) -> Run:
    from streams.worker import prepare

    name = f"bench-{label}-{uuid.uuid4().hex[:6]}"
    folder = home / name
    folder.mkdir(parents=True)
    settings = base.model_copy(update={"topic_prefix": name, "index": name, "app_id": name, "home": folder / "home",
                                       "partitions": PARTITIONS})
    prepare(settings)
    return Run(settings, folder)


def apply_rules(run: Run, rules: list[tuple[str, str]], share: float, row: dict) -> None:
    path = rules_file(rules, share, run.folder / f"rules.{RULES_FORMAT}")
    for verb in ("check", "apply"):
        seconds, rss, code, out = timed_command(run.settings, "rules", verb, str(path))
        if code != 0:
            raise RuntimeError(f"rules {verb} failed:\n{out[-2000:]}")
        row[f"rules {verb} s"], row[f"rules {verb} MB"] = seconds, rss


SCRAPE_SECONDS = 1.0


class Scraper:
    """GET each worker's /metrics every SCRAPE_SECONDS in a thread, as Prometheus would (more often)."""

    def __init__(self, workers: list[Worker]) -> None:
        import threading

        self.ports = [w.metrics_port for w in workers if w.metrics_port]
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.ports and SCRAPE_SECONDS > 0:
            self._thread.start()

    def _run(self) -> None:
        import urllib.request

        while not self._stop.wait(SCRAPE_SECONDS):
            for port in self.ports:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                        answer.read()
                    self.scrapes += 1
                except OSError:
                    pass  # not listening yet

    def stop(self) -> int:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        return self.scrapes


def drain(base: Settings, home: Path, stories: list[Story], rules: list[tuple[str, str]], share: float,
          n_workers: int, timeout: float, metrics: bool = True, mail: MailServer | None = None) -> dict:
    row: dict = {"rules": len(rules), "subscribed": share, "workers": n_workers, "stories": len(stories),
                 "metrics": "on" if metrics else "off"}
    run = new_run(base, home, f"{len(rules)}-{n_workers}w")
    try:
        apply_rules(run, rules, share, row)
        row["produce/s"], _ = produce(run.settings, stories)
        row["consume/s"] = consume_ceiling(run.settings, len(stories))
        row["bulk/s"] = bulk_ceiling(run.settings, stories, rules)
        log(f"  ceilings: produce {row['produce/s']:,.0f}/s, consume {row['consume/s']:,.0f}/s, bulk {row['bulk/s']:,.0f}/s")
        if mail is not None:
            mail.clear()
        started = time.monotonic()
        run.workers = [Worker(run.settings, run.folder / f"worker-{i}.log", _free_port() if metrics else 0)
                       for i in range(n_workers)]
        scraper = Scraper(run.workers)
        es = run.es()
        matched = MatchedProgress(run.settings)
        first = None
        first_wall = 0.0
        profilers: list[subprocess.Popen] = []
        cpu_first = cpu_last = 0.0
        done = 0
        peak = 0.0
        try:
            deadline = started + timeout
            while time.monotonic() < deadline:
                # The drain starts when the first story is matched (it is then
                # on the matched topic) and ends when the last one is indexed.
                if first is None and matched.count() > 0:
                    first = time.monotonic()
                    first_wall = time.time()
                    cpu_first = sum(w.cpu_seconds() for w in run.workers)
                    profilers = [p for i, w in enumerate(run.workers)
                                 if (p := profile(w, f"{row['rules']}-{share:g}-{n_workers}w-{i}"))]
                done = run.written(es) if first is not None else 0
                if first is not None:
                    cpu_last = sum(w.cpu_seconds() for w in run.workers)
                peak = max([peak] + [w.rss_mb()[0] for w in run.workers])
                if done >= len(stories) or not all(w.alive() for w in run.workers):
                    break
                time.sleep(0.1)
            finished = time.monotonic()
            finished_wall = time.time()
            if first is not None:
                done = run.indexed(es)  # each story once, searchable
        finally:
            for p in profilers:
                p.send_signal(signal.SIGINT)  # py-spy writes what it recorded on Ctrl-C
            for p in profilers:
                p.wait(60)
            es.close()
            matched.close()
            row["scrapes"] = scraper.stop()
        row["start s"] = (first - started) if first else None
        row["indexed"] = done
        row["drain/s"] = done / (finished - first) if first and done and finished > first else None
        row["worker RSS MB"] = peak
        # Busy share of one core per worker while draining: near 100% means the worker's own CPU bounds the drain.
        row["worker CPU"] = (cpu_last - cpu_first) / (finished - first) / n_workers if first and finished > first else None
        # Less moved by other work on the machine than the drain rate: what the workers spent per story.
        row["CPU ms/story"] = (cpu_last - cpu_first) * 1000 / done if first and done else None
        if done < len(stories):
            row["note"] = f"only {done} of {len(stories)} indexed in {timeout:.0f}s"
        row["drain/bulk"] = row["drain/s"] / row["bulk/s"] if row["drain/s"] else None
        if mail is not None and first is not None:
            # Indexing is done; the alert stage may not be: how far behind it was, and when it was done.
            arrived = mail.settled()
            row["alerts"] = len(arrived)
            row["alerts by the last story indexed"] = sum(1 for t in arrived if t <= finished_wall)
            row["last alert s"] = max(arrived) - first_wall if arrived else None
        # Counted before the rule change below adds its own: what the drain
        # sent toward and within the alert stage (the matches and alerts
        # topics, the alert stage's table changelogs; not its timer's ticks).
        row["messages"] = run.messages()
        row["alert path messages"] = sum(n for t, n in row["messages"].items()
                                         if t in ("matches", "alerts") or (t.startswith("alerts-") and t != "alerts-ticks"))
        row.update(run.notes())
        if all(w.alive() for w in run.workers) and done >= len(stories):
            row["change live s"], row["change s"] = change_one_rule(run, rules, share)
        log(f"  drain {row['drain/s'] or 0:,.0f}/s = {row['drain/bulk'] or 0:.0%} of bulk; start {row['start s'] or 0:.1f}s; "
            f"metrics {row['metrics']}: {row['CPU ms/story'] or 0:.3f} CPU ms/story, {row['scrapes']} scrapes; "
            f"{row['alert path messages']:,} messages on the alert path"
            + (f"; {row['alerts']:,} alerts, {row['alerts by the last story indexed']:,} of them by the last story indexed, "
               f"the last {row['last alert s'] or 0:.1f}s after the first story matched" if "alerts" in row else ""))
        return row
    finally:
        run.cleanup()


def profile(worker: Worker, label: str) -> subprocess.Popen | None:
    if PROFILE_DIR is None:
        return None
    out = PROFILE_DIR / f"drain-{label}.txt"
    log(f"  profiling worker {worker.proc.pid} into {out}")
    # --gil: only the thread holding the interpreter is sampled.  Without it
    # the SMTP threads, blocked on the mail server's replies, showed as a
    # fifth of the worker's time while they used little CPU.
    return subprocess.Popen(["py-spy", "record", "--pid", str(worker.proc.pid), "--rate", "200", "--nonblocking", "--gil",
                             "--format", "raw", "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PROBE_WORD = "zzwirewatchprobe"


def change_one_rule(run: Run, rules: list[tuple[str, str]], share: float) -> tuple[float | None, float | None]:
    """Seconds from `rules apply` of a file with one rule changed to (the change live in every worker, a story
    matched by the new rule indexed).

    Live: every worker's `wirewatch_rules_version` on /metrics has moved on
    (it counts rule messages read; the change is in the matcher when the
    count moves).  Indexed: a probe story sent after the apply, again until
    it comes back with the rule (a worker may see the change a moment later).
    """
    from producers.kafka_sink import StorySink

    changed = [(rules[0][0], PROBE_WORD), *rules[1:]]
    path = rules_file(changed, share, run.folder / f"rules-changed.{RULES_FORMAT}")
    ports = [w.metrics_port for w in run.workers if w.metrics_port]
    before = [rules_version(port) for port in ports]
    probe = Story(id="probe-rule-change", source="bench", title=f"A {PROBE_WORD} story", body="nothing else")
    es = run.es()
    live = indexed = None
    with StorySink(run.settings) as sink:  # made before the clock starts: not a cost of the change
        t0 = time.monotonic()
        out_path = run.folder / "rules-changed.out"
        with open(out_path, "wb") as out_file:
            apply = subprocess.Popen([sys.executable, "-m", "wirewatch", "rules", "apply", str(path)], env=env_for(run.settings),
                                     stdout=out_file, stderr=subprocess.STDOUT)
        try:
            deadline = t0 + 60
            while live is None and ports and time.monotonic() < deadline and apply.poll() in (None, 0):
                if all(rules_version(port) > was for port, was in zip(ports, before)):
                    live = time.monotonic() - t0
                time.sleep(0.02)
            if apply.wait(60) != 0:
                raise RuntimeError(f"rules apply of one change failed:\n{out_path.read_text(errors='replace')[-2000:]}")
            version = 1
            while time.monotonic() < deadline:
                sink.send(probe.model_copy(update={"version": version}))
                sink.flush()
                version += 1
                es.indices.refresh(index=run.settings.index)
                found = es.options(ignore_status=404).get(index=run.settings.index, id=probe.id)
                if found.get("found") and rules[0][0] in found["_source"].get("rules", []):
                    indexed = time.monotonic() - t0
                    break
                time.sleep(0.05)
        finally:
            if apply.poll() is None:
                apply.kill()
            es.close()
    return live, indexed


def rules_version(port: int) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("wirewatch_rules_version "):
                return float(line.split()[1])
    return -1.0


class MatchedProgress:
    """How many messages the matched topic holds: the worker's first output."""

    def __init__(self, settings: Settings) -> None:
        from kafka import TopicPartition

        from wirewatch import kafka_clients

        self.consumer = kafka_clients.consumer(settings, "bench-progress")
        self.tps = [TopicPartition(settings.matched_topic, p) for p in range(PARTITIONS)]

    def count(self) -> int:
        return sum(self.consumer.end_offsets(self.tps).values())

    def close(self) -> None:
        self.consumer.close()


def pctl(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def paced(base: Settings, home: Path, stories: list[Story], rules: list[tuple[str, str]], share: float, rate: float,
          seconds: float, mail: MailServer) -> dict:
    from elasticsearch.helpers import scan

    # The corpus is the most a paced run can send (30 s at 1,000/s wants more).
    count = min(int(rate * seconds), len(stories))
    batch = stories[:count]
    row: dict = {"rate": rate, "rules": len(rules), "subscribed": share, "stories": count}
    run = new_run(base, home, f"paced-{int(rate)}")
    mail.clear()
    try:
        apply_rules(run, rules, share, row)
        run.workers = [Worker(run.settings, run.folder / "worker-0.log")]
        # Warm up: one story through, so start-up is not in the latencies.
        produce(run.settings, [stories[-1].model_copy(update={"id": "warm-up"})])
        es = run.es()
        try:
            deadline = time.monotonic() + 120
            while run.indexed(es) < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not index the warm-up story")
                time.sleep(0.2)
            row["sent/s"], sent = produce(run.settings, batch, rate=rate)
            row["backlog at end"] = count + 1 - run.indexed(es)
            deadline = time.monotonic() + 300
            while run.indexed(es) < count + 1 and time.monotonic() < deadline:
                time.sleep(0.25)
            time.sleep(3)  # the last alerts of the last stories
            received = {s.id: s.received.timestamp() for s in sent}
            matched, indexed = [], []
            for hit in scan(es, index=run.settings.index, _source=["story_id", "received", "matched_at", "indexed_at"],
                            query={"query": {"match_all": {}}}):
                src = hit["_source"]
                t = received.get(src["story_id"])
                if t is None:
                    continue
                matched.append(datetime.fromisoformat(src["matched_at"]).timestamp() - t)
                if "indexed_at" in src:
                    indexed.append(datetime.fromisoformat(src["indexed_at"]).timestamp() - t)
        finally:
            es.close()
        alerted = []
        for arrived, headers in mail.messages():
            for sid in headers.get("X-WireWatch-Stories", "").split(","):
                if sid.strip() in received and headers.get("X-WireWatch-Kind", "instant") == "instant":
                    alerted.append(arrived - received[sid.strip()])
        for name, values in (("matched", matched), ("indexed", indexed), ("alerted", alerted)):
            row[f"{name} n"] = len(values)
            for q, label in ((0.5, "p50"), (0.99, "p99"), (1.0, "max")):
                row[f"{name} {label}"] = pctl(values, q)
        log(f"  paced {rate:.0f}/s: matched p99 {row['matched p99'] or 0:.3f}s, alerted p99 {row['alerted p99'] or 0:.3f}s "
            f"({len(alerted)} alerts), backlog at end {row['backlog at end']}")
        return row
    finally:
        run.cleanup()


# ---------------------------------------------------------------- report


def fmt(value, digits=0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def overhead(drains: list[dict]) -> list[str]:
    """Metrics on against off, per drain configuration: each run's figures and the medians' ratio.

    Drain / bulk rather than drain/s: each run's own bulk ceiling, measured
    just before, takes out some of what other work on the machine does to both.
    """
    groups: dict[tuple, dict[str, list[dict]]] = {}
    for r in drains:
        groups.setdefault((r["rules"], r["subscribed"], r["workers"]), {}).setdefault(r.get("metrics", "on"), []).append(r)
    lines = []
    for (rules, share, workers), by in groups.items():
        if not (by.get("on") and by.get("off")):
            continue
        if not lines:
            lines = ["", "| rules | subscribed | workers | CPU ms/story, metrics off | on | on / off (medians) | "
                     "drain / bulk, metrics off | on | on / off (medians) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

        def each(mode, key, digits):
            if key == "drain/bulk":
                return ", ".join("–" if r.get(key) is None else format(r[key], ".0%") for r in by[mode])
            return ", ".join(fmt(r.get(key), digits) for r in by[mode])

        def ratio(key):
            on = [r[key] for r in by["on"] if r.get(key)]
            off = [r[key] for r in by["off"] if r.get(key)]
            return f"{statistics.median(on) / statistics.median(off) - 1:+.1%}" if on and off else "–"

        lines.append(f"| {rules:,} | {share:.0%} | {workers} | {each('off', 'CPU ms/story', 3)} | {each('on', 'CPU ms/story', 3)} | "
                     f"{ratio('CPU ms/story')} | {each('off', 'drain/bulk', 0)} | {each('on', 'drain/bulk', 0)} | {ratio('drain/bulk')} |")
    return lines


def report(drains: list[dict], paces: list[dict]) -> str:
    lines = ["| rules | subscribed | workers | metrics | rules check s / MB | rules apply s / MB | produce/s | consume/s | bulk/s | "
             "worker start s | drain/s | drain / bulk | worker CPU | CPU ms/story | worker RSS MB | "
             "one rule changed → live in the workers / a story with it indexed s | indexed | read back by the guard | "
             "alerts (sent by the last story indexed) | first story matched → last alert s | messages on the alert path |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in drains:
        lines.append(
            f"| {r['rules']:,} | {r['subscribed']:.0%} | {r['workers']} | {r.get('metrics', 'on')} | {fmt(r.get('rules check s'), 1)} / {fmt(r.get('rules check MB'))} | "
            f"{fmt(r.get('rules apply s'), 1)} / {fmt(r.get('rules apply MB'))} | {fmt(r['produce/s'])} | {fmt(r['consume/s'])} | "
            f"{fmt(r['bulk/s'])} | {fmt(r['start s'], 1)} | {fmt(r['drain/s'])} | "
            f"{'–' if r['drain/bulk'] is None else format(r['drain/bulk'], '.0%')} | "
            f"{'–' if r.get('worker CPU') is None else format(r['worker CPU'], '.0%')} | {fmt(r.get('CPU ms/story'), 3)} | {fmt(r['worker RSS MB'])} | "
            f"{fmt(r.get('change live s'), 1)} / {fmt(r.get('change s'), 1)} | {fmt(r.get('indexed'))} | {fmt(r.get('read back'))} | "
            f"{fmt(r.get('alerts'))} ({fmt(r.get('alerts by the last story indexed'))}) | {fmt(r.get('last alert s'), 1)} | "
            f"{fmt(r.get('alert path messages'))} |"
            + (f" {r['note']}" if r.get("note") else "")
        )
    if paces:
        lines += ["", "| paced at | rules | subscribed | stories | backlog when pacing ended | story → matched p50 / p99 / max s | "
                  "story → indexed p50 / p99 / max s | story → alert delivered p50 / p99 / max s (alerts) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in paces:
            def trio(name):
                return " / ".join(fmt(r[f"{name} {q}"], 3) for q in ("p50", "p99", "max"))
            lines.append(f"| {r['rate']:,.0f}/s | {r['rules']:,} | {r['subscribed']:.0%} | {r['stories']:,} | {r['backlog at end']:,} | "
                         f"{trio('matched')} | {trio('indexed')} | {trio('alerted')} ({r['alerted n']}) |")
    lines += overhead(drains)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,10000,100000", help="rule-set sizes (default: %(default)s)")
    ap.add_argument("--subscribed", default="1,0.01", help="shares of rules with a subscriber (default: %(default)s)")
    ap.add_argument("--workers", default="1,2", help="worker counts, on 4 partitions (default: %(default)s)")
    ap.add_argument("--paced", default="200:10000,1000:1000",
                    help="paced runs as RATE:RULES, comma-separated; empty for none (default: %(default)s)")
    ap.add_argument("--paced-seconds", type=float, default=30.0, help="how long each paced run produces (default: %(default)s)")
    ap.add_argument("--paced-subscribed", type=float, default=0.01, help="share of rules with a subscriber in paced runs")
    ap.add_argument("--limit", type=int, help="use only the first N stories of the corpus")
    ap.add_argument("--timeout", type=float, default=900.0, help="longest wait for one drain (default: %(default)s s)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 100 and 10,000 rules, 3,000 stories, one worker, 10 s paced")
    ap.add_argument("--corpus", help="corpus folder (default: WIREWATCH_CORPUS_DIR or ../shared/corpus)")
    ap.add_argument("--seed", type=int, default=21578)
    ap.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    ap.add_argument("--engine", choices=["auto", "python"], default="auto",
                    help="the workers' matcher: auto (the compiled core when built) or python (pure Python)")
    ap.add_argument("--keep", action="store_true", help="keep the run folders (worker logs, rules files) and say where")
    ap.add_argument("--metrics", default="on",
                    help="the workers' metrics endpoint: on, off, or on,off to run each drain both ways and compare (default: %(default)s)")
    ap.add_argument("--scrape-seconds", type=float, default=1.0,
                    help="how often the workers' /metrics is read during a drain with metrics on; 0: never (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=1, help="run each drain this many times (with --metrics on,off: alternating)")
    ap.add_argument("--rules-format", choices=["jsonl", "yaml"], default="jsonl", help="how the rules file is written (default: %(default)s)")
    ap.add_argument("--profile", metavar="DIR",
                    help="record each drain's workers with py-spy (on PATH) into DIR, as collapsed stacks of the "
                         "thread holding the GIL (flamegraph.pl or speedscope read them); the sampling costs the "
                         "workers a little CPU")
    args = ap.parse_args()
    global RULES_FORMAT, SCRAPE_SECONDS, PROFILE_DIR
    RULES_FORMAT = args.rules_format
    if args.profile:
        if shutil.which("py-spy") is None:
            sys.exit("--profile needs py-spy on PATH (pip install py-spy)")
        PROFILE_DIR = Path(args.profile).resolve()
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    SCRAPE_SECONDS = args.scrape_seconds
    if args.quick:
        args.sizes, args.workers, args.limit, args.paced_seconds = "100,10000", "1", args.limit or 3000, 10.0
        args.paced = "200:10000"

    from rulegen import Corpus, RuleGenerator

    corpus = corpus_dir(args.corpus)
    log("reading the corpus")
    stories = list(read_stories(sorted((corpus / "reuters21578").glob("*.sgm"))))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    paces = [(float(r), int(n)) for r, n in (p.split(":") for p in args.paced.split(",") if p)]
    most = max(sizes + [n for _, n in paces])
    log(f"generating {most:,} rules from {len(stories):,} stories")
    all_rules = RuleGenerator(Corpus(stories), args.seed).rules(most)
    if args.limit:
        stories = stories[: args.limit]

    modes = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not modes or set(modes) - {"on", "off"}:
        sys.exit("--metrics takes on, off or on,off")
    home = Path(tempfile.mkdtemp(prefix="wirewatch-bench-"))
    base = Settings().model_copy(update={"smtp_port": _free_port(), "log_level": "warning", "matcher_engine": args.engine})
    from wirewatch.query import native

    engine = "python" if args.engine == "python" or not native.available() else "native (compiled core)"
    log(f"matcher engine: {engine}")
    mail = MailServer(base, home / "mail")
    drains, paced_rows = [], []
    try:
        for n in sizes:
            for share in (float(s) for s in args.subscribed.split(",")):
                for workers in (int(w) for w in args.workers.split(",")):
                    for rep in range(args.repeat):
                        # Alternating, so that a busy spell of the machine falls on both sides.
                        for mode in (modes if rep % 2 == 0 else modes[::-1]):
                            log(f"drain: {n:,} rules, {share:.0%} subscribed, {workers} worker(s), {len(stories):,} stories, metrics {mode}")
                            drains.append(drain(base, home, stories, all_rules[:n], share, workers, args.timeout, mode == "on", mail))
        for rate, n in paces:
            log(f"paced: {rate:.0f} stories/s, {n:,} rules")
            paced_rows.append(paced(base, home, stories, all_rules[:n], args.paced_subscribed, rate, args.paced_seconds, mail))
    finally:
        mail.stop()
    print(f"matcher engine: {engine}\n")
    print(report(drains, paced_rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"drains": drains, "paced": paced_rows}, indent=1, default=str))
    if args.keep:
        log(f"run folders kept in {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
