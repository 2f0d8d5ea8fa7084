"""`wirewatch demo`: the whole pipeline on local services, with real stories, in one command."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from .common import console, friendly_errors, out, settings

REPO = Path(__file__).resolve().parents[2]


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    rules: Path = typer.Option(REPO / "examples" / "rules.yaml", "--rules", exists=True, dir_okay=False, help="Watch rules to make live."),
    files: int = typer.Option(2, "--files", min=0, max=18, help="How many Reuters-21578 files (1,000 stories each) to replay, besides the sample story."),
    speed: float = typer.Option(None, "--speed", min=0.001, help="Replay at the stories' original pace sped up this many times (default: as fast as possible)."),
    timeout: float = typer.Option(240.0, "--timeout", help="Longest wait for the pipeline to finish, in seconds."),
) -> None:
    """Replay real wire stories through Kafka, the worker, Elasticsearch and alerts, and show what matched.

    Needs Kafka and Elasticsearch running (`make demo` starts them: `wirewatch services up`).
    Starts a local mail server (on WIREWATCH_SMTP_PORT) that keeps every alert email as a file,
    publishes the rules, runs a worker, replays the sample story and Reuters stories from the
    shared corpus (WIREWATCH_CORPUS_DIR), prints alerts as they arrive, then a summary and where
    to look. Services stay up afterwards; the worker and the mail server stop.
    """
    from alerts import smtpsink
    from producers.sources import read_stories
    from wirewatch import topics

    from .rules_live import apply_rules_file

    s = settings()
    home = s.home.resolve()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    maildir = home / "mail"
    corpus = s.corpus_dir if s.corpus_dir.is_absolute() else (Path.cwd() / s.corpus_dir)
    inputs = [corpus / "samples" / "xi-putin-moscow-visit.txt"]
    inputs += [corpus / "reuters21578" / f"reut2-{i:03d}.sgm" for i in range(files)]

    worker = None
    sink = None
    arrived: queue.Queue = queue.Queue()
    with friendly_errors():
        _step(1, "services")
        _check_services(s)
        _step(2, f"local mail server on {s.smtp_host}:{s.smtp_port}, keeping each message in {maildir}")
        sink = _start_sink(smtpsink, maildir, s, arrived)
        try:
            _step(3, f"rules: {rules}")
            topics.ensure(s)
            change = apply_rules_file(s, rules)
            console.print(
                f"    {len(change.added)} added, {len(change.changed)} changed, {len(change.removed)} removed on {s.rules_topic}"
            )
            _step(4, f"worker (consumer group {s.app_id}); its log: {logs / 'demo-worker.log'}")
            worker = _start_worker(s, logs / "demo-worker.log")
            stories = list(read_stories(inputs, on_error=lambda exc: console.print(f"    [yellow]skipped[/] {exc}")))
            _step(5, f"replaying {len(stories):,} stories from {corpus}")
            _produce(s, stories, speed)
            _step(6, "waiting for every story to be matched and indexed and every alert to go out")
            _wait(s, worker, arrived, timeout)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]")
        finally:
            if worker is not None:
                _stop_worker(worker)
            if sink is not None:
                sink.stop()
        _summary(s, maildir, sink.handler.received() if sink else [], stories_sent=len(stories) if worker else 0)


def _step(n: int, text: str) -> None:
    console.print(f"[bold cyan][{n}/6][/] {text}")


def _check_services(s) -> None:
    from wirewatch.errors import ConfigError
    from wirewatch.services import status

    reports = status(s)
    down = [r for r in reports if r.state not in ("running", "external")]
    for r in reports:
        console.print(f"    {r.title} at {r.address}: {r.state}")
    if down:
        raise ConfigError("start the services first: `make services-up` (or `wirewatch services up`)")


def _start_sink(smtpsink, maildir: Path, s, arrived: queue.Queue):
    from wirewatch.errors import ConfigError

    def on_message(message, recipients) -> None:
        arrived.put((" ".join(str(message["Subject"]).split()), recipients))

    handler = smtpsink.MailSink(maildir, on_message=on_message)
    try:
        return smtpsink.start(handler, host=s.smtp_host, port=s.smtp_port)
    except (OSError, RuntimeError) as exc:
        raise ConfigError(
            f"cannot start the demo's mail server on {s.smtp_host}:{s.smtp_port} ({exc}); "
            "is another one running? Set WIREWATCH_SMTP_PORT to a free port."
        ) from exc


def _start_worker(s, log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    for name, value in s.model_dump().items():
        if value is not None:
            env[f"WIREWATCH_{name.upper()}"] = str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)
    env["PYTHONUNBUFFERED"] = "1"
    fh = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "wirewatch", "worker"], env=env, stdout=fh, stderr=subprocess.STDOUT)


def _stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()


def _produce(s, stories, speed) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from producers.kafka_sink import StorySink
    from producers.replay import Pace, replay

    with StorySink(s) as sink, Progress(TextColumn("    sending"), BarColumn(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task("send", total=len(stories))
        replay(stories, sink.send, Pace(speed), on_sent=lambda _story: bar.advance(task))


def _lag(s) -> int | None:
    """Messages not yet processed by the worker group on the topics it reads (None: not known yet)."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    from wirewatch import kafka_clients

    names = [s.stories_topic, s.matched_topic, s.matches_topic, s.alerts_topic]
    admin = kafka_clients.admin(s)
    consumer = kafka_clients.consumer(s, "wirewatch-demo")
    try:
        committed = admin.list_group_offsets({s.app_id: None}).get(s.app_id, {})
        tps = [TopicPartition(t, p) for t in names for p in (consumer.partitions_for_topic(t) or ())]
        end = consumer.end_offsets(tps)
        return sum(max(0, end[tp] - (committed[tp].offset if tp in committed else 0)) for tp in tps)
    except KafkaError:
        # A new broker has no group coordinator until the first group commits.
        return None
    finally:
        consumer.close()
        admin.close()


def _wait(s, worker: subprocess.Popen, arrived: queue.Queue, timeout: float) -> None:
    from wirewatch.errors import WireWatchError

    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    shown = 0
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise WireWatchError(f"the worker stopped (exit {worker.returncode}); see its log")
        while not arrived.empty():
            subject, recipients = arrived.get()
            shown += 1
            out.print(f"    [green]mail[/] to {', '.join(recipients)}: {subject}", markup=True, highlight=False)
            quiet_since = time.monotonic()
        lag = _lag(s)
        if lag == 0 and time.monotonic() - quiet_since > 5:
            console.print(f"    done: nothing left to process, {shown} emails arrived")
            if not shown:
                console.print(
                    "    (no new email: WireWatch alerts once per rule and story, and these stories were alerted"
                    " in an earlier run; the worker log says 'already alerted')"
                )
            return
        time.sleep(0.5)
    console.print(f"[yellow]    gave up waiting after {timeout:.0f} s; the worker may still be busy[/]")


def _summary(s, maildir: Path, mails, stories_sent: int) -> None:
    from rich.table import Table

    from streams import elastic

    es = elastic.sync_client(s)
    try:
        es.indices.refresh(index=s.index)
        total = es.count(index=s.index)["count"]
        aggs = es.search(index=s.index, size=0, aggs={"rules": {"terms": {"field": "rules", "size": 100}}})
        buckets = aggs["aggregations"]["rules"]["buckets"]
    finally:
        es.close()
    table = Table("rule", "stories matched", title=f"{total:,} stories in Elasticsearch index {s.index}")
    for b in buckets:
        table.add_row(b["key"], f"{b['doc_count']:,}")
    out.print(table)
    console.print(f"{stories_sent:,} stories replayed; {len(mails)} alert emails received in {maildir}/new")
    ww = "wirewatch" if _on_path() else ".venv/bin/wirewatch"
    look = Table.grid(padding=(0, 3))
    look.add_column(no_wrap=True)
    look.add_column()
    for command, what in (
        (f"{ww} search '\"peace talks\"'", "stories in Elasticsearch, matched words highlighted"),
        (f"{ww} search --rule opec-output --newest", "every indexed story a live rule matches"),
        (f"{ww} tail matches -b -e", "every match on Kafka, as it was sent"),
        (f"{ww} tail deadletter -b -e", "anything parked, and why"),
        (f"{ww} rules list", "the live rules"),
        (f"ls {maildir}/new", "the alert emails (any mail reader opens them)"),
        (f"{ww} worker", "run the worker again: digests and anything pending go out (Ctrl-C stops it)"),
        ("make services-down", "stop Kafka and Elasticsearch"),
    ):
        look.add_row(command, what)
    out.print("\n[bold]Where to look[/]")
    out.print(look, highlight=False)


def _on_path() -> bool:
    return Path(sys.executable).parent in [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep)]
