"""When and how a match becomes an alert: routing, flood control, digests.

Pure: the state of one (rule, subscriber) pair is a `Mailbox`, a plain record
the stage keeps in a Faust table; every function here takes the time as an
argument, so the tests drive it with a fake clock.

- A match goes out at once ("instant") unless the subscriber wants digests,
  or it arrives in the subscriber's quiet hours and is not urgent enough to
  break through; then it waits in the subscriber's next digest.
- Instant alerts are capped per subscriber by the rule's `realert` window:
  the first `max` in a window go out, the rest are held and sent as one
  summary when the window closes.
- A digest is due `every` minutes after it opened; a digest due in quiet
  hours waits for them to end.  A quiet-hours digest of an instant
  subscriber is due when quiet hours end.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .subscriptions import Realert, Subscription

Route = Literal["instant", "digest"]


class Mailbox(BaseModel):
    """What one subscriber of one rule has been sent and is owed."""

    model_config = ConfigDict(extra="ignore")

    # Flood window of instant alerts.
    window_start: float | None = None
    window_sent: int = 0
    # The stories those were about (at most the window's `max`): a match
    # decided again after a crash gets its alert again, not a second one.
    window_ids: list[str] = []
    # Matches held back by flood control in the current window: how many,
    # and the stories the summary lists (at most the digest cap).  The
    # matches themselves are kept beside the mailbox, one entry each, so
    # that holding one more does not rewrite all the others.
    held: int = 0
    held_ids: list[str] = []
    # Held matches as mailboxes stored by earlier versions kept them, inside
    # the mailbox: still listed, never added to.
    held_items: list[dict] = []
    # The open digest: story ids waiting, and how many more beyond the cap.
    digest_opened: float | None = None
    digest_due: float | None = None
    digest_ids: list[str] = []
    digest_more: int = 0
    digest_seq: int = 0
    # Stories under embargo: story id -> when it lifts (epoch seconds).
    embargoed: dict[str, float] = {}
    # Stories killed while they waited here (the latest few): a kill decided
    # again after a crash must not take them for stories that were sent.
    gone: list[str] = []

    @property
    def idle(self) -> bool:
        return not self.held and not self.digest_ids and not self.digest_more and not self.embargoed


def moment(now: float) -> datetime:
    return datetime.fromtimestamp(now, timezone.utc)


def route(sub: Subscription, urgency: int | None, now: float) -> Route:
    quiet = sub.quiet_hours is not None and sub.quiet_hours.contains(moment(now))
    if quiet:
        return "instant" if sub.breaks_through(urgency) else "digest"
    return "digest" if sub.mode == "digest" else "instant"


def admit(box: Mailbox, realert: Realert | None, now: float, story_id: str | None = None) -> bool:
    """Count an instant alert against the flood window; False if it must be held.

    A story already alerted in this window is admitted again without being
    counted: its match came a second time (the mailbox reached Kafka before
    the worker died, the record that the match was handled did not), and it
    must become the same alert (the same id, sent once), not a held match
    listed in a summary as well.
    """
    if realert is None:
        return True
    if box.window_start is None or now >= box.window_start + realert.seconds:
        box.window_start = now
        box.window_sent = 0
        box.window_ids = []
    if story_id is not None and story_id in box.window_ids:
        return True
    if box.window_sent < realert.max:
        box.window_sent += 1
        if story_id is not None:
            box.window_ids.append(story_id)
        return True
    return False


def hold(box: Mailbox, story_id: str, cap: int) -> bool:
    """Count a match held back by flood control; True if the summary lists it (up to `cap` are listed).

    A listed story held again is neither counted nor listed again.
    """
    if story_id in box.held_ids or any(_item_id(i) == story_id for i in box.held_items):
        return False
    box.held += 1
    if len(box.held_ids) + len(box.held_items) < cap:
        box.held_ids.append(story_id)
        return True
    return False


def _item_id(item: dict) -> str | None:
    return (item.get("story") or {}).get("id")


def may_be_due(stored: dict, realert: Realert | None, now: float) -> bool:
    """Whether a mailbox, as stored (its JSON), may owe something at `now` or may be forgotten.

    Cheap, and never False when `flush_due` would act: an embargo lifted, a
    summary or digest due, or an idle box whose window is over.  Checked on
    every mailbox at every tick, before the mailbox is read into a model.
    """
    embargoed = stored.get("embargoed") or {}
    if embargoed and min(embargoed.values()) <= now:
        return True
    window_start = stored.get("window_start")
    window_over = realert is None or window_start is None or now >= window_start + realert.seconds
    held = stored.get("held", 0)
    if held and window_over:
        return True
    waiting = stored.get("digest_ids") or stored.get("digest_more")
    if waiting and stored.get("digest_opened") is not None:
        due = stored.get("digest_due")
        if due is None or now >= due:
            return True
    return window_over and not (held or waiting or embargoed)


def summary_due(box: Mailbox, realert: Realert | None, now: float) -> bool:
    if not box.held:
        return False
    if realert is None or box.window_start is None:
        return True  # flood control was switched off since: send what is held
    return now >= box.window_start + realert.seconds


def close_summary(box: Mailbox) -> None:
    box.held = 0
    box.held_ids = []
    box.held_items = []


def buffer(box: Mailbox, sub: Subscription, story_id: str, now: float, cap: int) -> bool:
    """Put a story in the subscriber's open digest; True if it is listed (not just counted)."""
    if box.digest_opened is None:
        box.digest_opened = now
        if sub.mode == "digest":
            box.digest_due = now + sub.digest_minutes * 60.0
        else:
            # An instant subscriber's digest holds only what quiet hours held back.
            assert sub.quiet_hours is not None
            box.digest_due = sub.quiet_hours.end_after(moment(now)).timestamp()
    if story_id in box.digest_ids:
        return True
    if len(box.digest_ids) < cap:
        box.digest_ids.append(story_id)
        return True
    box.digest_more += 1
    return False


def digest_due(box: Mailbox, sub: Subscription | None, now: float) -> bool:
    """Whether the open digest should go out now; postpones it past quiet hours."""
    if box.digest_opened is None or (not box.digest_ids and not box.digest_more):
        return False
    if box.digest_due is not None and now < box.digest_due:
        return False
    if sub is not None and sub.quiet_hours is not None and sub.quiet_hours.contains(moment(now)):
        box.digest_due = sub.quiet_hours.end_after(moment(now)).timestamp()
        return False
    return True


def close_digest(box: Mailbox) -> None:
    box.digest_opened = None
    box.digest_due = None
    box.digest_ids = []
    box.digest_more = 0
    box.digest_seq += 1


GONE_KEPT = 50


def embargo(box: Mailbox, story_id: str, until: float) -> None:
    """Keep a story back until its embargo lifts (a story already waiting keeps its time)."""
    box.embargoed.setdefault(story_id, until)


def lifted(box: Mailbox, now: float) -> list[str]:
    """The stories whose embargo has lifted, taken out of the wait, oldest embargo first."""
    due = sorted((until, sid) for sid, until in box.embargoed.items() if until <= now)
    for _, sid in due:
        del box.embargoed[sid]
    return [sid for _, sid in due]


def withdraw(box: Mailbox, story_id: str) -> bool:
    """Take a killed story out of everything the mailbox still owes.

    True when it was waiting (held by flood control, in the open digest,
    under embargo), or was taken out before: nothing about it reached the
    subscriber through this mailbox, so no "withdrawn" notice is owed.  A
    story that flood control only counted (beyond the summary's list) stays
    counted.
    """
    if story_id in box.gone:
        return True
    waiting = False
    listed = [i for i in box.held_items if _item_id(i) == story_id]
    if listed or story_id in box.held_ids:
        box.held_items = [i for i in box.held_items if i not in listed]
        box.held_ids = [i for i in box.held_ids if i != story_id]
        box.held = max(0, box.held - 1)
        waiting = True
    if story_id in box.digest_ids:
        box.digest_ids.remove(story_id)
        if not box.digest_ids and not box.digest_more:
            box.digest_opened = None
            box.digest_due = None
        waiting = True
    if box.embargoed.pop(story_id, None) is not None:
        waiting = True
    if waiting:
        box.gone = [*box.gone, story_id][-GONE_KEPT:]
    return waiting


def forgotten(sent_at: float, now: float, memory_days: float) -> bool:
    """Whether a remembered (rule, story) is old enough to drop."""
    return now - sent_at > memory_days * 86400.0


def alert_id(kind: str, *parts: object) -> str:
    """A stable id for an alert: the same decision made twice gets the same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{kind}-{digest}"
