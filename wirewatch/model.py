"""The records every stage passes around, defined once.

JSON on the wire.  Kafka metadata (topic, partition, offset) never goes into
these payloads: it belongs to the message, not to the story.  The one
exception is `DeadLetter`, whose whole purpose is to say where a message
came from.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError

Field_ = Literal["title", "body"]


def _utc(value: datetime) -> datetime:
    # Naive times from feeds are taken as UTC: wire services stamp in UTC and
    # guessing the machine's local zone would shift stories by hours.
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Record(BaseModel):
    # Unknown keys are ignored so that a newer producer can add fields
    # without breaking older workers.
    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str, where: str | None = None):
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise InputError(f"not a valid {cls.__name__}: {_summarise(exc)}", where) from exc


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "(document)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


class Story(_Record):
    """One wire story, in one version.

    `id` is stable across versions of the same story and is the Kafka key
    (so every version lands on one partition, in order) and the
    Elasticsearch `_id`.
    """

    id: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    source: str = Field(min_length=1)
    title: str = ""
    body: str = ""
    published: UtcDatetime | None = None
    received: UtcDatetime = Field(default_factory=utcnow)
    language: str | None = None
    urgency: int | None = Field(default=None, ge=1, le=9)
    pubstatus: Literal["usable", "withheld", "canceled"] = "usable"
    # Until when the provider forbids publishing this story.  Optional, with
    # `signals`, so that messages written before they existed still decode.
    embargo: UtcDatetime | None = None
    # The provider's processing instructions for this version, e.g. "update",
    # "correction", "kill" (NewsML-G2 `signal` codes without the scheme).
    signals: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    url: str | None = None

    @property
    def withdrawn(self) -> bool:
        return is_withdrawn(self.pubstatus, self.signals)

    def embargoed(self, now: datetime) -> bool:
        """Whether alerts about this version must still wait for its embargo to lift."""
        return self.embargo is not None and self.embargo > now


def is_withdrawn(pubstatus: object, signals: object) -> bool:
    """Killed or withdrawn by its agency: pubstatus canceled, or a "kill" signal (of a Story or its JSON)."""
    return pubstatus == "canceled" or (isinstance(signals, (list, tuple)) and "kill" in signals)


class Hit(_Record):
    """Where a rule's word was found: character offsets into a story field."""

    field: Field_
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Match(_Record):
    """One rule matched one story version.  Keyed by rule id on Kafka."""

    rule_id: str = Field(min_length=1)
    story: Story
    matched_at: UtcDatetime = Field(default_factory=utcnow)
    hits: tuple[Hit, ...] = ()


class StoryMatches(_Record):
    """The rules with subscribers that one story version matched, on one partition of the matches topic.

    The match stage sends one per partition its rules live on (rules are
    placed by the hash of their id, as Kafka places keys), so a story is
    carried a bounded number of times however many rules it matches, and
    rules nobody subscribed to cost the alert stage nothing.  Where the
    words are (hits) is left to the alert stage, for the few matches that
    become an alert.
    """

    story: Story
    matched_at: UtcDatetime = Field(default_factory=utcnow)
    rules: tuple[str, ...] = Field(min_length=1)

    def matches(self) -> list[Match]:
        """One Match per rule (built without validating again: every part is already valid)."""
        return [Match.model_construct(rule_id=r, story=self.story, matched_at=self.matched_at, hits=()) for r in self.rules]


class Withdrawal(_Record):
    """A story its agency killed or withdrew, on one partition of the matches topic.

    The match stage sends one to every partition (a kill is rare, and any
    partition may hold rules that alerted about the story), so that each
    partition's alert stage can tell those it alerted and drop what still
    waits.  The story travels without its body: the notice needs its id,
    version and headline only.
    """

    withdrawn: Story
    at: UtcDatetime = Field(default_factory=utcnow)


def read_matches(data: bytes | str, where: str | None = None) -> list[Match]:
    """The matches in a message of the matches topic: a StoryMatches, or a single Match (a group of one)."""
    found = read_matches_message(data, where)
    if isinstance(found, Withdrawal):
        raise InputError("a withdrawal, not matches", where)
    return found


def read_matches_message(data: bytes | str, where: str | None = None) -> "list[Match] | Withdrawal":
    """A message of the matches topic: its matches, or the withdrawal of a story."""
    import orjson

    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", where) from exc
    if isinstance(doc, dict) and "rule_id" in doc:
        return [Match.from_json(data, where)]
    if isinstance(doc, dict) and "withdrawn" in doc:
        return Withdrawal.from_json(data, where)
    return StoryMatches.from_json(data, where).matches()


class MatchedStory(_Record):
    """A story with every rule it matched (possibly none): what gets indexed."""

    story: Story
    rules: tuple[str, ...] = ()
    matched_at: UtcDatetime = Field(default_factory=utcnow)


class MatchedBatch(_Record):
    """Matched stories of one partition, in order, as one message of the matched topic.

    The match stage sends what one batch of stories matched as a few such
    messages rather than one per story: between two stages of one worker a
    message costs far more to send, fetch and hand to an agent than the
    story it carries costs to index.  A single MatchedStory is a batch of one.
    """

    items: tuple[MatchedStory, ...] = Field(min_length=1)

    @staticmethod
    def join(parts: list[bytes]) -> bytes:
        """The JSON of a batch whose items' JSON is `parts` (each a MatchedStory.to_json())."""
        return b'{"items":[' + b",".join(parts) + b"]}"


class Alert(_Record):
    """A message to send to one subscriber about one or more matches.

    `alert_id` is derived from what the alert is about, so the same decision
    made twice (after a restart) gives the same id and is delivered once.
    `suppressed` counts matches the alert stands for but does not list: held
    back by flood control (kind "summary") or beyond a digest's length.
    """

    alert_id: str = Field(min_length=1)
    rule_id: str = Field(min_length=1)
    rule_name: str | None = None
    # "withdrawn": the story of `matches`, alerted before, was killed by its agency.
    kind: Literal["instant", "digest", "summary", "withdrawn"] = "instant"
    channel: str = Field(min_length=1)
    target: str = Field(min_length=1)
    matches: tuple[Match, ...] = ()
    suppressed: int = Field(default=0, ge=0)
    created_at: UtcDatetime = Field(default_factory=utcnow)


class DeadLetter(_Record):
    """A message a stage could not process, parked with the reason.

    The original bytes are kept (as UTF-8 text when they decode, otherwise
    base64) so the message can be inspected and replayed.
    """

    stage: str
    reason: str
    error_type: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str = ""
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    # Set when the reason is an exception from our code or a library rather
    # than a verdict on the input: where it came from.
    traceback: str | None = None
    at: UtcDatetime = Field(default_factory=utcnow)

    @classmethod
    def for_message(
        cls,
        *,
        stage: str,
        error: BaseException,
        payload: bytes | None,
        key: bytes | str | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> "DeadLetter":
        text, encoding = _payload_text(payload or b"")
        if isinstance(key, bytes):
            key = key.decode("utf-8", "replace")
        return cls(
            stage=stage,
            reason=str(error) or type(error).__name__,
            error_type=type(error).__name__,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            payload=text,
            payload_encoding=encoding,
        )

    def raw_payload(self) -> bytes:
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode()


def _payload_text(payload: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"
