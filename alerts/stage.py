"""The alert stage of a Faust worker: matches in, email and Slack out.

`install(app, settings)` adds to a Faust app:

- the *decide* agent on the matches topic (key = rule id).  For each match
  it checks the sent-memory (once per rule and story), routes the match per
  subscriber (instant / digest / quiet hours), applies the rule's flood
  window, and writes `Alert` records to the alerts topic (key = alert id).
- the *deliver* agent on the alerts topic.  It records each alert in a
  durable outbox and starts its delivery in the background, so a failing
  mail server delays only its own alerts, never other subscribers nor the
  matching stage, and never holds up a Kafka rebalance.  Deliveries are
  retried with backoff until the retry horizon; then, or at once for a
  permanent refusal, the alert is parked on the dead-letter topic.
- the *tick* agent on a small internal topic a timer feeds once every
  `alerts_tick_seconds` per partition.  Ticks reach the worker that owns
  the partition, in stream order, so digests and flood summaries are sent
  and failed deliveries resumed by the owner of their state, even after a
  restart or a rebalance.

State lives in Faust tables backed by changelog topics, so it survives
restarts: `alerts-handled` (rule+story already handled), `alerts-mailboxes`
(flood window, held count and open digest per rule+subscriber),
`alerts-pending` (matches waiting in a digest, under embargo or listed in a
flood summary), `alerts-outbox` (alerts not yet delivered),
`alerts-delivered` (alert ids done) and `alerts-progress` (last offset
processed per partition).

Why nothing is lost or sent twice:

- A match is marked handled only after what it caused (alerts on Kafka,
  digest and flood state) is flushed to Kafka.  A crash before that means
  the match is processed again, and makes the same alerts with the same ids.
- Alert ids are derived from what they are about, and the deliver agent
  skips ids it has delivered; the outbox survives restarts, and its entry
  is removed only when the alert was sent or parked.
- The one window left is between a server accepting a message and the
  "delivered" record reaching Kafka (one flush); email carries a stable
  Message-ID so a mail reader folds a copy sent in that window.
- faust-streaming can skip messages when a worker starts with a backlog;
  each agent records the last offset it processed and reads any skipped
  range from Kafka itself (`wirewatch.pipeline.progress`).
- Only bad input or a server's permanent refusal parks a message; an
  exception from our own code is logged with its traceback and the message
  tried again (`wirewatch.pipeline.failures`).

A backlog of stories is searchable first: while the worker's matching or
indexing is behind (the `behind` given to `install`), the decide and
deliver agents take at most `alerts_share_when_behind` of the worker's
time (wirewatch.pipeline.pacing), waiting between batches, never holding
a message.

Story lifecycle: an update or correction alerts only for the rules it newly
matches (the handled record).  A story under embargo waits in each
subscriber's mailbox (its match in `alerts-pending`) and is routed by a tick
once the embargo lifts.  A kill (a `Withdrawal` on every partition) takes
the story out of whatever still waits and sends one "withdrawn" notice to
each subscriber who got it; the kill is kept in the handled record, so an
older version's match arriving later alerts nobody.

Everything keyed by rule lives on the rule's partition of the matches
topic; everything keyed by alert id on its partition of the alerts topic.
The ticks topic must have the same partition count as both (Faust then
assigns the same partition numbers of all three to one worker).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from wirewatch.errors import ConfigError, PermanentError, QueryError, WireWatchError
from wirewatch.model import Alert, DeadLetter, Match, Withdrawal, read_matches_message
from wirewatch.pipeline.deadletter import DeadLetters
from wirewatch.pipeline.failures import PerMessage
from wirewatch.pipeline.progress import GapGuard, Raw, faust_gaps
from wirewatch.pipeline.counters import Counters
from wirewatch.pipeline.pacing import GiveWay
from wirewatch.pipeline.retry import retrying as stage_retrying
from wirewatch.pipeline.tables import by_hash, by_suffix, keyed_table
from wirewatch.query import compile_rule, story_hits
from wirewatch.settings import Settings

from . import policy, render
from .delivery import Dispatcher
from .policy import Mailbox
from .retry import retrying
from .rulebook import RuleBook, RulesFile
from .subscriptions import RuleAlerting, Subscription

log = logging.getLogger("wirewatch.alerts")

STAGE = "alerts"
SEP = "\x1f"
SWEEP_SECONDS = 600.0


def install(
    app: Any,
    settings: Settings,
    rules: Callable[[], RuleBook] | None = None,
    *,
    ready: Callable[[], Awaitable[Any]] | None = None,
    clock: Callable[[], float] = time.time,
    console: Any = None,
    behind: Callable[[], bool] | None = None,
) -> "AlertStage":
    """Add the alert stage to a Faust app.

    `rules` returns the current RuleBook (called per message, so it may
    change at run time); by default the rules file of `settings.rules_file`
    is read when the worker starts and re-read when it changes.  `ready` is
    awaited before the first match is decided, so that no match meets a
    rule book that is still loading.  `behind` says whether the stages
    before this one (matching, indexing) have a backlog on this worker:
    the stage then takes at most `settings.alerts_share_when_behind` of the
    worker's time (see wirewatch.pipeline.pacing).
    """
    stage = AlertStage(app, settings, rules, clock=clock, console=console, ready=ready, behind=behind)
    stage.install()
    return stage


def with_hits(rule: RuleAlerting, match: Match) -> Match:
    """The match with where the rule's words are in the story (as it came, when it came with them)."""
    if match.hits or not rule.query:
        return match
    try:
        expr = _expression(rule.query)
    except QueryError:
        return match
    hits = story_hits({rule.rule_id: expr}, match.story.title, match.story.body).get(rule.rule_id, ())
    return match.model_copy(update={"hits": tuple(hits)})


@functools.lru_cache(maxsize=20_000)
def _expression(query: str):
    return compile_rule(query).expr


def _outbox_payload(entry: dict) -> bytes:
    """The alert of an outbox entry as the alerts topic had it (entries of earlier versions hold it decoded)."""
    return entry["raw"].encode() if "raw" in entry else json.dumps(entry["alert"]).encode()


def _stories(alert: Alert) -> str:
    ids = [m.story.id for m in alert.matches]
    shown = ",".join(ids[:5])
    more = len(ids) - 5 + alert.suppressed if len(ids) > 5 else alert.suppressed
    return shown + (f"+{more}" if more else "")


def unless_rebalancing(app: Any, behind: Callable[[], bool] | None) -> Callable[[], bool] | None:
    """`behind`, but never while `app` rebalances.

    Faust finishes handing partitions over only once every message its
    agents took is acknowledged, and the batch this stage has taken while
    it gives way is among them: giving way then held a rebalance up for
    25 s while a second worker joined a drain.
    """
    if behind is None:
        return None
    return lambda: not getattr(app, "rebalancing", False) and behind()


class AlertStage:
    def __init__(self, app: Any, settings: Settings, rules: Callable[[], RuleBook] | None, *, clock, console, ready=None,
                 behind: Callable[[], bool] | None = None) -> None:
        self.app = app
        self._ready = ready
        self.settings = settings
        self._rules_source = rules
        self.clock = clock
        self.dispatcher = Dispatcher(settings, self.rules, console)
        self.counts = Counters(STAGE, log, clock)
        self.stats = self.counts.totals
        # (decided | sent | retried | parked, channel), for the metrics; and told of each alert sent.
        self.by_channel: Counter[tuple[str, str]] = Counter()
        self.on_sent: Callable[[Alert], None] | None = None
        self._lock = asyncio.Lock()  # decisions and ticks change the same mailboxes
        self._inflight: dict[bytes, asyncio.Task] = {}
        self._marks: dict[bytes, dict] = {}  # handled records waiting for their batch's flush
        self._sending: set[bytes] = set()
        self._swept: dict[int, float] = {}
        self.give_way = GiveWay(unless_rebalancing(app, behind), settings.alerts_share_when_behind, on_change=self.on_backlog)

    # ------------------------------------------------------------ wiring

    def rules(self) -> RuleBook:
        assert self._rules_source is not None, "install() first"
        return self._rules_source()

    def install(self) -> None:
        app, s = self.app, self.settings
        if self._rules_source is None:
            # Read now, so a broken rules file stops the worker at start
            # instead of parking every match.
            if s.rules_file is None:
                raise ConfigError("the alert stage needs rules: set WIREWATCH_RULES_FILE")
            self._rules_source = RulesFile(s.rules_file)
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.matches_topic = app.topic(s.matches_topic, **raw)
        self.alerts_topic = app.topic(s.alerts_topic, **raw)
        self.dead = DeadLetters(app.topic(s.deadletter_topic, **raw))
        self.failures = PerMessage(STAGE, self.dead, log)
        self.ticks_topic = app.topic(
            s.alerts_ticks_topic, partitions=s.partitions, internal=True, retention=timedelta(hours=1), **raw
        )

        # Keys are bytes as they are (key_type=bytes makes Faust write and
        # recover them raw, and the partitioner hash them like the alert
        # keys); values are JSON documents.
        # Every table places its entries by key (see wirewatch.pipeline.tables),
        # never by the event being processed: decisions are made in batches
        # that mix partitions.  Handled records are keyed story<SEP>partition;
        # mailboxes and digests by rule first, on the rule's partition.
        on_rule_partition = by_hash(s.partitions, first_field=True)
        self.handled = keyed_table(app, "alerts-handled", s.partitions, by_suffix)
        self.mailboxes = keyed_table(app, "alerts-mailboxes", s.partitions, on_rule_partition)
        self.pending = keyed_table(app, "alerts-pending", s.partitions, on_rule_partition)
        # Written by background delivery tasks, outside any stream event:
        # each key goes to its alert's partition (the alert id is the alerts
        # topic's key), computed here, not by Faust's `use_partitioner`,
        # which fails while the producer does not know a new changelog topic.
        on_alerts_partition = by_hash(s.partitions)
        self.outbox = keyed_table(app, "alerts-outbox", s.partitions, on_alerts_partition)
        self.delivered = keyed_table(app, "alerts-delivered", s.partitions, on_alerts_partition)
        # Last offset each agent processed per partition: see wirewatch.pipeline.progress.
        self.progress = keyed_table(app, "alerts-progress", s.partitions, by_suffix)
        gaps = faust_gaps(app)
        self.decide_guard = GapGuard(self.progress, s.kafka_bootstrap, self.clock, stage="alerts", on_read_back=gaps)
        self.deliver_guard = GapGuard(self.progress, s.kafka_bootstrap, self.clock, stage="alerts", on_read_back=gaps)

        app.agent(self.matches_topic, name="wirewatch.alerts.decide")(self._decide_agent)
        app.agent(self.alerts_topic, name="wirewatch.alerts.deliver")(self._deliver_agent)
        app.agent(self.ticks_topic, name="wirewatch.alerts.tick")(self._tick_agent)
        app.timer(s.alerts_tick_seconds, name="wirewatch.alerts.ticker")(self._send_ticks)
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_before_shutdown.connect(self._on_shutdown)

    # ------------------------------------------------------------ agents

    async def _decide_agent(self, stream) -> None:
        if self._ready is not None:
            await self._ready()
        await self._in_batches(stream, self.decide_guard, self._decide_all, self._lock)

    async def _decide_all(self, raws: list[Raw]) -> None:
        """Decide a batch of matches; what they caused is on Kafka before any of them counts as handled."""
        for raw in raws:
            await self.failures.run(self.decide, raw)
        if self._marks:
            await self._flush()
            for key, value in self._marks.items():
                self.handled[key] = value
            self._marks.clear()

    async def _accept_all(self, raws: list[Raw]) -> None:
        for raw in raws:
            await self.failures.run(self.accept, raw)

    async def _deliver_agent(self, stream) -> None:
        # A webhook's URL comes from the rules: none is sent before they are loaded.
        if self._ready is not None:
            await self._ready()
        # Taking an alert only starts its delivery, so none waits on another.
        await self._in_batches(stream, self.deliver_guard, self._accept_all)

    async def _in_batches(self, stream, guard: GapGuard, handle_all: Callable[[list[Raw]], Awaitable[None]],
                          lock: asyncio.Lock | None = None) -> None:
        """Hand the stream to `handle_all` in batches, each after any messages the stream skipped before it.

        Progress is recorded once per batch and partition, not once per
        message (a changelog message each).
        """
        s = self.settings
        async for events in stream.take_events(s.alerts_batch, within=s.alerts_batch_seconds):
            raws = [Raw.of(e) for e in events]
            try:
                todo = await guard.fill(raws)
            except Exception:
                log.exception("alerts: could not read what the stream skipped before %s", raws[0].where())
                todo = raws
            began = time.perf_counter()
            if lock is None:
                await handle_all(todo)
            else:
                async with lock:
                    await handle_all(todo)
            guard.done_all(raws)
            self.give_way.spent(time.perf_counter() - began)
            # Here, not before handling: what waits stays in Faust's buffer,
            # which a rebalance clears of partitions this worker loses.
            await self.give_way.turn()

    async def _tick_agent(self, stream) -> None:
        if self._ready is not None:
            await self._ready()
        async for event in stream.events():
            stale = self.clock() - (event.message.timestamp or 0) > max(10.0, 3 * self.settings.alerts_tick_seconds)
            if stale:
                continue  # a backlog of old ticks: the fresh ones will do
            partition = event.message.partition
            # While the stage gives way to a backlog, its streams are not
            # stuck: what they have not reached yet is not a skipped tail.
            catch_up = not self.give_way.is_behind()
            try:
                async with self._lock:
                    if catch_up:
                        await self._catch_up(self.decide_guard, self.settings.matches_topic, partition, self._decide_all)
                    await self.flush_due(partition)
                if catch_up:
                    await self._catch_up(self.deliver_guard, self.settings.alerts_topic, partition, self._accept_all)
                self.resume_deliveries(partition)
                self._sweep(partition)
                self._report()
            except Exception:
                log.exception("alerts: tick on partition %d failed", partition)

    async def _catch_up(self, guard: GapGuard, topic: str, partition: int, handle_all) -> None:
        """Handle messages at the end of a partition that the stream skipped (nothing came after them)."""
        from faust.types import TP

        idle = max(10.0, 5 * self.settings.alerts_tick_seconds)
        end = self.app.consumer.highwater(TP(topic, partition))
        missed = await guard.missed_at_tail(topic, partition, end, idle)
        await handle_all(missed)
        if missed:
            guard.done(missed[-1])

    async def _send_ticks(self, app: Any) -> None:
        try:
            for tp in app.assignor.assigned_actives():
                if tp.topic == self.settings.alerts_ticks_topic:
                    await self.ticks_topic.send(key=None, value=b"", partition=tp.partition, force=True)
        except Exception:  # an exception here would end the timer for good
            log.exception("alerts: could not send ticks; trying again in %ss", self.settings.alerts_tick_seconds)

    async def _on_assigned(self, app: Any, assigned, **kwargs) -> None:
        # State keyed by rule lives on the rule's partition of the matches
        # topic, and ticks reach the owner of a partition only if all three
        # topics have as many partitions as the tables: otherwise stop.
        s = self.settings
        counts = {t: app.consumer.topic_partitions(t) for t in (s.matches_topic, s.alerts_topic, s.alerts_ticks_topic)}
        wrong = {t: n for t, n in counts.items() if n is not None and n != s.partitions}
        if wrong:
            error = ConfigError(
                f"the alert stage needs {s.partitions} partitions (WIREWATCH_PARTITIONS) in "
                + ", ".join(f"{t} (has {n})" for t, n in wrong.items())
            )
            log.critical("alerts: %s", error)
            await app.crash(error)

    async def _on_revoked(self, app: Any, revoked, **kwargs) -> None:
        # The new owner resumes waiting deliveries from the outbox; retrying
        # them here as well could send twice.  A send in progress is left to
        # finish: its thread cannot be stopped, and abandoning it unrecorded
        # would send it again later.
        if any(tp.topic == self.settings.alerts_topic for tp in revoked):
            self._stop_waiting()

    async def _on_shutdown(self, app: Any, **kwargs) -> None:
        self._stop_waiting()
        sending = [t for k, t in self._inflight.items() if k in self._sending]
        if sending:
            log.info("alerts: waiting for %d sends in progress", len(sending))
            await asyncio.wait(sending, timeout=self.settings.smtp_timeout + self.settings.slack_timeout)
        await asyncio.to_thread(self.dispatcher.close)
        for guard in (self.decide_guard, self.deliver_guard):
            await guard.close()

    def _stop_waiting(self) -> None:
        for key, task in list(self._inflight.items()):
            if key not in self._sending:
                task.cancel()

    # ------------------------------------------------------------ decide

    async def decide(self, msg: Raw) -> None:
        """Decide what the matches in one message cause; `_decide_all` marks them handled once that is on Kafka."""
        found = read_matches_message(msg.value or b"", where=msg.where())
        if isinstance(found, Withdrawal):
            await self.withdraw(found, msg.partition)
            return
        matches = found
        book = self.rules()
        now = self.clock()
        # What was already decided for this story on this partition (rules
        # live on their hash's partition, so one record per story and
        # partition covers every rule the message can carry).
        handled_key = f"{matches[0].story.id}{SEP}{msg.partition}".encode()
        record = self._marks.get(handled_key) or self.handled.get(handled_key)
        decided: dict[str, int] = dict(record["r"]) if record else {}
        killed = record.get("w") if record else None
        fresh = False
        for match in matches:
            self.stats["matches"] += 1
            if killed is not None and match.story.version <= killed:
                self.stats["killed"] += 1
                log.info("alerts: rule=%s story=%s v%d was killed (v%d); no alert",
                         match.rule_id, match.story.id, match.story.version, killed)
                continue
            rule = book.get(match.rule_id)
            if rule is None:
                self.stats["unknown_rule"] += 1
                log.warning("alerts: match for rule %r, which is not in the rules; no alert", match.rule_id)
                continue
            if not rule.subscribers:
                continue
            if match.rule_id in decided:
                self.stats["duplicates"] += 1
                log.info("alerts: rule=%s story=%s v%d already alerted (v%s); no alert",
                         rule.rule_id, match.story.id, match.story.version, decided[match.rule_id])
                continue
            await self._decide_one(rule, match, msg.partition, now)
            decided[match.rule_id] = match.story.version
            fresh = True
        if fresh:
            # The headline people were alerted with, for a "withdrawn" notice.
            title = (record or {}).get("t") or matches[0].story.title[:render.HEADLINE_CHARS]
            self._marks[handled_key] = {**(record or {}), "r": decided, "t": title, "at": now, "p": msg.partition}

    async def withdraw(self, withdrawal: Withdrawal, partition: int) -> None:
        """A story killed by its agency: drop what still waits, and tell those who were alerted, once each.

        The rules that decided the story on this partition are in its
        handled record.  A subscriber for whom it still waits (flood, digest,
        embargo) loses it and is told nothing; every other subscriber of
        those rules got it, and gets one "withdrawn" notice.  The notice's id
        is made of the subscriber's address and the story, so a person
        alerted by several rules (on any partition) gets one.  The kill is
        recorded in the handled record, by `_decide_all` once the notices are
        on Kafka, so it is decided again after a crash with the same ids.
        """
        story = withdrawal.withdrawn
        now = self.clock()
        handled_key = f"{story.id}{SEP}{partition}".encode()
        record = self._marks.get(handled_key) or self.handled.get(handled_key)
        if record and record.get("w") is not None:
            log.info("alerts: story=%s v%d already withdrawn (v%s); nothing more to do", story.id, story.version, record["w"])
            return
        decided: dict[str, int] = dict(record["r"]) if record else {}
        if record and record.get("t"):
            # The headline people were alerted with, not the kill's own ("KILL: ...", or none).
            story = story.model_copy(update={"title": record["t"]})
        book = self.rules()
        told: set[tuple[str, str]] = set()
        for rule_id in decided:
            rule = book.get(rule_id)
            if rule is None:
                continue
            for sub in rule.subscribers:
                box_key = self._box_key(rule_id, sub)
                box = self._load_box(box_key)
                if policy.withdraw(box, story.id):
                    self.pending.pop(self._pending_key(box_key, story.id), None)
                    self.pending.pop(self._held_key(box_key, story.id), None)
                    self.mailboxes[box_key] = {"p": partition, "box": box.model_dump(mode="json")}
                    self.stats["withdrawn_unsent"] += 1
                    continue
                if (sub.channel, sub.target_id) in told:
                    continue
                told.add((sub.channel, sub.target_id))
                alert_id = policy.alert_id("withdrawn", sub.channel, sub.target_id, story.id)
                notice = Match(rule_id=rule_id, story=story, matched_at=withdrawal.at)
                await self._emit(self._alert("withdrawn", rule, sub, (notice,), 0, alert_id, now), wait=False)
        log.info("alerts: story=%s v%d withdrawn on partition %d: %d rules had decided it, %d notices",
                 story.id, story.version, partition, len(decided), len(told))
        self._marks[handled_key] = {**(record or {}), "r": decided, "w": story.version, "at": now, "p": partition}

    async def _decide_one(self, rule: RuleAlerting, match: Match, partition: int, now: float) -> None:
        story = match.story
        shown: list[Match] = []

        def as_shown() -> Match:
            # Where the words are, and the body cut to their passages: worked
            # out only for a match that is sent or kept for a digest, never
            # for the many a flood holds back.
            if not shown:
                shown.append(render.compact(with_hits(rule, match)))
            return shown[0]

        embargoed = story.embargoed(policy.moment(now))
        if embargoed:
            log.info("alerts: rule=%s story=%s v%d under embargo until %s; its alerts wait",
                     rule.rule_id, story.id, story.version, story.embargo)
        for sub in rule.subscribers:
            box_key = self._box_key(rule.rule_id, sub)
            box = self._load_box(box_key)
            if embargoed:
                # Waits in the mailbox; `flush_due` routes it when the embargo lifts.
                assert story.embargo is not None
                policy.embargo(box, story.id, story.embargo.timestamp())
                self.pending[self._pending_key(box_key, story.id)] = as_shown().model_dump(mode="json")
                self.stats["embargoed"] += 1
            else:
                # On Kafka by the batch's flush, before the match counts as handled.
                await self._route(rule, sub, box, box_key, match, as_shown, now, wait=False)
            self.mailboxes[box_key] = {"p": partition, "box": box.model_dump(mode="json")}

    async def _route(self, rule: RuleAlerting, sub: Subscription, box: Mailbox, box_key: bytes, match: Match,
                     as_shown: Callable[[], Match], now: float, wait: bool) -> None:
        """Send, hold or buffer one match for one subscriber, by the rule's policy at `now`."""
        story = match.story
        cap = self.settings.alerts_digest_max_items
        if policy.route(sub, story.urgency, now) == "instant":
            if policy.admit(box, rule.realert, now, story.id):
                alert_id = policy.alert_id("instant", rule.rule_id, sub.key, story.id)
                await self._emit(self._alert("instant", rule, sub, (as_shown(),), 0, alert_id, now), wait=wait)
            else:
                if policy.hold(box, story.id, cap):
                    self.pending[self._held_key(box_key, story.id)] = render.without_body(match).model_dump(mode="json")
                self.stats["held"] += 1
        else:
            if policy.buffer(box, sub, story.id, now, cap):
                self.pending[self._pending_key(box_key, story.id)] = as_shown().model_dump(mode="json")
            self.stats["buffered"] += 1

    async def _flush(self) -> None:
        """Wait until everything sent so far is on Kafka, however long Kafka is away."""
        async for attempt in stage_retrying(log, "alerts: flushing decisions to Kafka", any_failure=True):
            with attempt:
                await self.app.producer.flush()

    async def flush_due(self, partition: int) -> None:
        """Send the digests and flood summaries that are due on this partition."""
        book = self.rules()
        now = self.clock()
        for box_key, value in list(self.mailboxes.items()):
            if value.get("p") != partition:
                continue
            rule_id, sub_key = box_key.decode().split(SEP, 1)
            rule = book.get(rule_id)
            sub = next((s for s in rule.subscribers if s.key == sub_key), None) if rule else None
            if rule is None or sub is None:
                log.info("alerts: %s of rule %s is no longer subscribed; dropping what it was owed", sub_key, rule_id)
                self._drop_box(box_key, Mailbox.model_validate(value["box"]))
                continue
            if not policy.may_be_due(value["box"], rule.realert, now):
                continue  # most boxes at most ticks: not read into a model, not copied
            box = Mailbox.model_validate(value["box"])
            for story_id in policy.lifted(box, now):
                await self._release(rule, sub, box, box_key, story_id, now)
            if policy.summary_due(box, rule.realert, now):
                keys = [self._held_key(box_key, sid) for sid in box.held_ids]
                listed = tuple(Match.model_validate(m) for m in [*box.held_items, *self._waiting(keys)])
                alert_id = policy.alert_id("summary", rule_id, sub.key, box.window_start, box.held)
                await self._emit(self._alert("summary", rule, sub, listed, box.held - len(listed), alert_id, now))
                for k in keys:
                    self.pending.pop(k, None)
                policy.close_summary(box)
            if policy.digest_due(box, sub, now):
                keys = [self._pending_key(box_key, sid) for sid in box.digest_ids]
                listed = tuple(Match.model_validate(m) for m in self._waiting(keys))
                unlisted = box.digest_more + len(keys) - len(listed)
                alert_id = policy.alert_id("digest", rule_id, sub.key, box.digest_opened, box.digest_seq, *box.digest_ids, box.digest_more)
                await self._emit(self._alert("digest", rule, sub, listed, unlisted, alert_id, now))
                for k in keys:
                    self.pending.pop(k, None)
                policy.close_digest(box)
            window_over = rule.realert is None or box.window_start is None or now >= box.window_start + rule.realert.seconds
            if box.idle and window_over:
                del self.mailboxes[box_key]  # nothing owed and nothing to count: forget it
            else:
                dumped = box.model_dump(mode="json")
                if dumped != value["box"]:
                    self.mailboxes[box_key] = {"p": partition, "box": dumped}

    async def _release(self, rule: RuleAlerting, sub: Subscription, box: Mailbox, box_key: bytes, story_id: str, now: float) -> None:
        """Route a story whose embargo lifted, as a match arriving now would be."""
        key = self._pending_key(box_key, story_id)
        value = self.pending.get(key)
        if value is None:
            log.warning("alerts: rule=%s story=%s: embargo lifted but the match is gone; no alert", rule.rule_id, story_id)
            return
        match = Match.model_validate(value)
        # Awaited: the mailbox that no longer holds it is written after the alert is on Kafka.
        await self._route(rule, sub, box, box_key, match, lambda: match, now, wait=True)
        if story_id not in box.digest_ids:
            self.pending.pop(key, None)
        log.info("alerts: rule=%s story=%s v%d: embargo lifted", rule.rule_id, story_id, match.story.version)

    def _waiting(self, keys: list[bytes]) -> list[dict]:
        """The matches kept under these keys of `alerts-pending` (one a kill took out is gone)."""
        return [m for m in (self.pending.get(k) for k in keys) if m is not None]

    def _drop_box(self, box_key: bytes, box: Mailbox) -> None:
        for sid in [*box.digest_ids, *box.embargoed]:
            self.pending.pop(self._pending_key(box_key, sid), None)
        for sid in box.held_ids:
            self.pending.pop(self._held_key(box_key, sid), None)
        del self.mailboxes[box_key]

    @staticmethod
    def _box_key(rule_id: str, sub: Subscription) -> bytes:
        return f"{rule_id}{SEP}{sub.key}".encode()

    @staticmethod
    def _pending_key(box_key: bytes, story_id: str) -> bytes:
        return box_key + f"{SEP}{story_id}".encode()

    @staticmethod
    def _held_key(box_key: bytes, story_id: str) -> bytes:
        # Apart from the story's digest or embargo entry of the same mailbox.
        return AlertStage._pending_key(box_key, f"held{SEP}{story_id}")

    def _load_box(self, key: bytes) -> Mailbox:
        value = self.mailboxes.get(key)
        return Mailbox.model_validate(value["box"]) if value else Mailbox()

    def _alert(self, kind, rule: RuleAlerting, sub: Subscription, matches, unlisted: int, alert_id: str, now: float) -> Alert:
        return Alert(
            alert_id=alert_id,
            rule_id=rule.rule_id,
            rule_name=rule.name,
            kind=kind,
            channel=sub.channel,
            target=sub.target_id,
            matches=tuple(matches),
            suppressed=unlisted,
            created_at=policy.moment(now),
        )

    async def _emit(self, alert: Alert, wait: bool = True) -> None:
        # force=True: sent now, not attached to the commit; with `wait`, awaited until Kafka has it.
        sent = await self.alerts_topic.send(key=alert.alert_id.encode(), value=alert.to_json(), force=True)
        if wait:
            await sent
        self.stats[alert.kind] += 1
        self.by_channel["decided", alert.channel] += 1
        log.info("alerts: decided %s alert=%s rule=%s stories=%s channel=%s target=%s",
                 alert.kind, alert.alert_id, alert.rule_id, _stories(alert), alert.channel, alert.target)

    # ------------------------------------------------------------ deliver

    async def accept(self, msg: Raw) -> None:
        """Take an alert from the alerts topic into the outbox and start sending it."""
        alert = Alert.from_json(msg.value or b"", where=f"{msg.topic}[{msg.partition}]@{msg.offset}")
        key = alert.alert_id.encode()
        if key in self.delivered:
            self.stats["redelivered"] += 1
            log.info("alerts: alert=%s already delivered; not sending again", alert.alert_id)
            return
        entry = self.outbox.get(key)
        if entry is None:
            # The alert as it came, a string: the outbox's changelog then
            # escapes one string instead of encoding the whole alert again.
            entry = {"raw": msg.value.decode(), "p": msg.partition, "offset": msg.offset, "first": self.clock()}
            self.outbox[key] = entry
        self._start(key, entry, alert)

    def resume_deliveries(self, partition: int) -> None:
        """Start deliveries in the outbox that are not running (after a restart or a rebalance)."""
        for key, entry in list(self.outbox.items()):
            if entry.get("p") == partition and key not in self._inflight:
                self._start(key, entry)

    def _start(self, key: bytes, entry: dict, alert: Alert | None = None) -> None:
        if key in self._inflight:
            return
        task = asyncio.ensure_future(self._deliver(key, entry, alert))
        self._inflight[key] = task
        task.add_done_callback(lambda _t, key=key: self._inflight.pop(key, None))

    async def _deliver(self, key: bytes, entry: dict, alert: Alert | None = None) -> None:
        if alert is None:
            alert = Alert.model_validate_json(entry["raw"]) if "raw" in entry else Alert.model_validate(entry["alert"])
        if key in self.delivered:
            # Recorded as delivered, but a crash kept the outbox entry.
            self.outbox.pop(key, None)
            return
        deadline = entry["first"] + self.settings.retry_horizon_seconds
        tries = {"n": 0}

        def on_retry(attempt: int, exc: BaseException, wait: float) -> None:
            tries["n"] = attempt
            self.stats["retries"] += 1
            self.by_channel["retried", alert.channel] += 1
            log.warning("alerts: retry alert=%s rule=%s stories=%s channel=%s target=%s attempt=%d in %.1fs: %s",
                        alert.alert_id, alert.rule_id, _stories(alert), alert.channel, alert.target, attempt, wait, exc)

        async def attempt() -> None:
            async with self.dispatcher.limit(alert.channel):
                # From here the send cannot be taken back (email goes out in a
                # thread): a stop or a rebalance lets it finish and be recorded.
                self._sending.add(key)
                began = time.perf_counter()
                try:
                    await self.dispatcher.send(alert)
                finally:
                    self._sending.discard(key)
                    self.give_way.spent(time.perf_counter() - began)

        # Waiting here holds nothing of Kafka's: the alert is in the outbox.
        await self.give_way.turn()
        try:
            attempts = await retrying(attempt, deadline=deadline, settings=self.settings, on_retry=on_retry)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc if isinstance(exc, WireWatchError) else PermanentError(f"{type(exc).__name__}: {exc}")
            await self._dead(key, entry, alert, error, tries["n"] + 1)
            return
        self.delivered[key] = {"at": self.clock(), "outcome": "sent", "p": entry["p"]}
        self.outbox.pop(key, None)
        self.stats["sent"] += 1
        self.by_channel["sent", alert.channel] += 1
        if self.on_sent is not None:
            self.on_sent(alert)
        log.info("alerts: sent alert=%s rule=%s kind=%s stories=%s channel=%s target=%s attempts=%d",
                 alert.alert_id, alert.rule_id, alert.kind, _stories(alert), alert.channel, alert.target, attempts)
        # Make "delivered" durable at once: until it is, a crash would send again.
        await self.delivered.written(key)

    async def _dead(self, key: bytes, entry: dict, alert: Alert, error: WireWatchError, attempts: int) -> None:
        reason = str(error)
        if error.retriable:
            reason = f"gave up after {attempts} attempts over {self.settings.retry_horizon_seconds:.0f}s: {reason}"
        letter = DeadLetter.for_message(
            stage=STAGE, error=error, payload=_outbox_payload(entry), key=key,
            topic=self.settings.alerts_topic, partition=entry.get("p"), offset=entry.get("offset"),
        ).model_copy(update={"reason": reason})
        await self.dead.send(letter)
        self.delivered[key] = {"at": self.clock(), "outcome": "dead", "p": entry["p"]}
        self.outbox.pop(key, None)
        self.stats["dead"] += 1
        self.by_channel["parked", alert.channel] += 1
        log.error("alerts: FAILED alert=%s rule=%s kind=%s stories=%s channel=%s target=%s: %s (parked on %s)",
                  alert.alert_id, alert.rule_id, alert.kind, _stories(alert), alert.channel, alert.target, reason,
                  self.settings.deadletter_topic)
        await self.delivered.written(key)

    # ------------------------------------------------------------ upkeep

    def on_backlog(self, behind: bool) -> None:
        if behind:
            log.info("alerts: matching or indexing has a backlog; alerts take at most %.0f%% of the worker "
                     "until it is gone (WIREWATCH_ALERTS_SHARE_WHEN_BEHIND)", 100 * self.settings.alerts_share_when_behind)
        else:
            log.info("alerts: backlog gone; alerts at full pace (%.1fs given way so far)", self.give_way.waited)

    def _report(self) -> None:
        self.stats["parked"] = self.failures.parked
        self.stats["retried_messages"] = self.failures.retries
        self.counts.report()

    def _sweep(self, partition: int) -> None:
        """Forget, now and then, what was sent longer ago than `alerts_memory_days`."""
        now = self.clock()
        if now - self._swept.get(partition, 0.0) < SWEEP_SECONDS:
            return
        self._swept[partition] = now
        days = self.settings.alerts_memory_days
        for table in (self.handled, self.delivered):
            for key, value in list(table.items()):
                if value.get("p") == partition and policy.forgotten(value.get("at", now), now, days):
                    del table[key]
