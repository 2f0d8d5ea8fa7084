"""Who hears about a rule's matches, how and when.

These are the `subscribers:` and `realert:` keys of a rule in the rules file::

    - id: opec
      query: OPEC NEAR/5 (cut* OR quota*)
      name: OPEC output
      subscribers:
        - email: desk@example.com            # or a list of addresses
        - slack_webhook: https://hooks.slack.com/services/T000/B000/XXXX
          mode: digest
          every: 30                          # minutes between digests
        - slack_channel: "#energy"           # needs WIREWATCH_SLACK_BOT_TOKEN
          quiet_hours: {start: "22:00", end: "07:00", tz: Europe/London}
          min_urgency: 2                     # urgency 1 or 2 breaks through quiet hours
        - console: true
      realert: {max: 5, minutes: 10}         # or `realert: false`

Pure: no I/O beyond reading the time-zone database.  `check_rule` lists
every problem in a rule (for `wirewatch rules check`); `parse` builds the
`RuleAlerting` the alert stage works from.
"""

from __future__ import annotations

import functools

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wirewatch.errors import RuleError

CHANNELS = ("email", "slack_webhook", "slack_channel", "console")
Channel = Literal["email", "slack_webhook", "slack_channel", "console"]

DEFAULT_DIGEST_MINUTES = 60.0
DEFAULT_REALERT_MAX = 10
DEFAULT_REALERT_MINUTES = 10.0

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_CHANNEL_NAME = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")


def _clock_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 22:00 as the base-60 integer 1320.
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        raise ValueError("must be a time of day like \"22:00\"")
    if isinstance(value, str):
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
        if not m:
            raise ValueError(f"{value!r} is not a time of day like \"22:00\"")
        return time(int(m.group(1)), int(m.group(2)))
    if isinstance(value, time):
        return value
    raise ValueError("must be a time of day like \"22:00\"")


class QuietHours(BaseModel):
    """A daily span of local time in which only urgent stories are sent at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time
    tz: str = "UTC"

    _parse_times = field_validator("start", "end", mode="before")(_clock_time)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("start and end are the same time")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight

    def end_after(self, moment: datetime) -> datetime:
        """The first end of quiet hours after `moment` (an aware datetime)."""
        local = moment.astimezone(self.zone)
        day = local.date()
        for offset in range(3):
            candidate = datetime.combine(day + timedelta(days=offset), self.end, tzinfo=self.zone)
            if candidate > local:
                return candidate
        raise AssertionError("a daily time occurs within three days")


class Subscription(BaseModel):
    """One recipient of one rule's alerts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    target: str = Field(min_length=1)
    mode: Literal["instant", "digest"] = "instant"
    every: float | None = Field(None, gt=0, description="Minutes between digests.")
    quiet_hours: QuietHours | None = None
    min_urgency: int | None = Field(None, ge=1, le=9)

    @property
    def digest_minutes(self) -> float:
        return self.every or DEFAULT_DIGEST_MINUTES

    @property
    def target_id(self) -> str:
        """What alerts, logs and dead letters name the target by.

        A webhook URL is a secret (anyone holding it can post), so it is
        named by a hash and looked up again in the rules when sending.
        """
        if self.channel == "slack_webhook":
            return "hook-" + hashlib.sha256(self.target.encode()).hexdigest()[:16]
        return self.target

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.target_id}"

    def breaks_through(self, urgency: int | None) -> bool:
        # IPTC urgency: 1 is the most urgent, 9 the least.
        return self.min_urgency is not None and urgency is not None and urgency <= self.min_urgency


class Realert(BaseModel):
    """Flood control: at most `max` instant alerts per subscriber in `minutes`; the rest in one summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max: int = Field(DEFAULT_REALERT_MAX, ge=1)
    minutes: float = Field(DEFAULT_REALERT_MINUTES, gt=0)

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0


_DEFAULT_REALERT = Realert()


@dataclass(frozen=True)
class RuleAlerting:
    """Everything the alert stage needs to know about one rule."""

    rule_id: str
    name: str | None = None
    query: str | None = None
    subscribers: tuple[Subscription, ...] = ()
    realert: Realert | None = Realert()

    @property
    def display_name(self) -> str:
        return self.name or self.rule_id

    def subscription(self, channel: str, target_id: str) -> Subscription | None:
        for sub in self.subscribers:
            if sub.channel == channel and sub.target_id == target_id:
                return sub
        return None


def check_rule(rule_id: str, raw: Mapping[str, Any]) -> list[str]:
    """Every problem in a rule's alerting keys, each naming the rule; empty if fine.

    `raw` is the rule's mapping from the rules file (its `id` and `query`
    are not checked here), or the `extra` keys of a parsed rule.
    """
    return alerting_of(rule_id, raw)[1]


def check(rule) -> list[str]:
    """`check_rule` for a `wirewatch.rules.Rule`: the form `load_rules(path, check=...)` takes."""
    return check_rule(rule.id, rule.to_dict())


def parse(rule_id: str, raw: Mapping[str, Any]) -> RuleAlerting:
    """The rule's alerting settings; `RuleError` listing every problem if any."""
    alerting, problems = alerting_of(rule_id, raw)
    if problems:
        raise RuleError(rule_id, "; ".join(p.removeprefix(f"rule {rule_id!r}: ") for p in problems))
    assert alerting is not None
    return alerting


def alerting_of(rule_id: str, raw: Mapping[str, Any]) -> tuple[RuleAlerting | None, list[str]]:
    """(the rule's alerting settings, or None when it has problems; every problem, naming the rule)."""
    problems: list[str] = []

    def problem(message: str) -> None:
        problems.append(f"rule {rule_id!r}: {message}")

    if not isinstance(raw, Mapping):
        problem("must be a mapping")
        return None, problems

    subscribers: list[Subscription] = []
    listed = raw.get("subscribers")
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        problem("subscribers must be a list, e.g. `subscribers: [{email: desk@example.com}]`")
        listed = []
    seen: dict[str, int] = {}
    for number, item in enumerate(listed, start=1):
        for message, sub in _subscribers(item):
            if message:
                problem(f"subscriber {number}: {message}")
                continue
            assert sub is not None
            if sub.key in seen:
                problem(f"subscriber {number}: same {sub.channel} as subscriber {seen[sub.key]} ({_shown(sub)})")
                continue
            seen[sub.key] = number
            subscribers.append(sub)

    # Most rules of a large set say nothing of flood control: share one default.
    realert: Realert | None = _DEFAULT_REALERT
    raw_realert = raw.get("realert", {})
    if raw_realert is False:
        realert = None
    elif raw_realert is None or (isinstance(raw_realert, Mapping) and not raw_realert):
        pass
    elif isinstance(raw_realert, Mapping):
        try:
            realert = Realert.model_validate(raw_realert)
        except ValidationError as exc:
            for message in _messages(exc):
                problem(f"realert: {message}")
    else:
        problem("realert must be a mapping like `{max: 5, minutes: 10}`, or false")

    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        problem("name must be text")
        name = str(name)
    query = raw.get("query")
    alerting = RuleAlerting(
        rule_id=rule_id,
        name=name,
        query=query if isinstance(query, str) else None,
        subscribers=tuple(subscribers),
        realert=realert,
    )
    return (None if problems else alerting), problems


def _subscribers(item: Any) -> list[tuple[str | None, Subscription | None]]:
    """One subscriber entry -> (problem, None) or (None, subscription) per target."""
    if not isinstance(item, Mapping):
        return [("must be a mapping like `email: desk@example.com`", None)]
    channels = [c for c in CHANNELS if c in item]
    options = {k: v for k, v in item.items() if k not in CHANNELS}
    if not channels:
        unknown = [k for k in options if k not in Subscription.model_fields]
        if unknown:
            return [(f"unknown channel type {unknown[0]!r} (expected one of: {', '.join(CHANNELS)})", None)]
        return [(f"names no channel (expected one of: {', '.join(CHANNELS)})", None)]
    if len(channels) > 1:
        return [(f"names more than one channel ({', '.join(channels)}); write one subscriber per channel", None)]
    channel = channels[0]
    bad = [k for k in options if k in ("channel", "target") or k not in Subscription.model_fields]
    if bad:
        return [(f"unknown key {bad[0]!r} (expected: mode, every, quiet_hours, min_urgency)", None)]

    targets, target_problems = _targets(channel, item[channel])
    if target_problems:
        return [(p, None) for p in target_problems]

    results: list[tuple[str | None, Subscription | None]] = []
    for target in targets:
        try:
            sub = Subscription.model_validate({"channel": channel, "target": target, **options})
        except ValidationError as exc:
            return [(f"{channel}: {message}", None) for message in _messages(exc)]
        if sub.every is not None and sub.mode != "digest":
            return [(f"{channel}: `every` applies only to `mode: digest`", None)]
        if sub.min_urgency is not None and sub.quiet_hours is None:
            return [(f"{channel}: `min_urgency` only matters with `quiet_hours`", None)]
        results.append((None, sub))
    return results


def _targets(channel: str, value: Any) -> tuple[list[str], list[str]]:
    if channel == "console":
        if value is True:
            return ["console"], []
        return [], ["console: write `console: true`"]
    if channel == "email":
        addresses = value if isinstance(value, list) else [value]
        if not addresses:
            return [], ["email: the list of addresses is empty"]
        good, problems = [], []
        for address in addresses:
            normalised, message = _email(address)
            if message:
                problems.append(f"email: {message}")
            else:
                good.append(normalised)
        return good, problems
    if not isinstance(value, str) or not value.strip():
        return [], [f"{channel}: must be text"]
    value = value.strip()
    if channel == "slack_webhook":
        message = _webhook(value)
        return ([], [f"slack_webhook: {message}"]) if message else ([value], [])
    if _CHANNEL_NAME.match(value) or _CHANNEL_ID.match(value):
        return [value], []
    return [], [f"slack_channel: {value!r} is neither a channel name like \"#energy\" nor a channel id like C0123456789"]


def _email(address: Any) -> tuple[str, str | None]:
    if not isinstance(address, str):
        return "", f"{address!r} is not an email address"
    return _checked_email(address)


# A desk's address recurs across its many rules; checking one costs ~75 µs.
@functools.lru_cache(maxsize=65536)
def _checked_email(address: str) -> tuple[str, str | None]:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address.strip(), check_deliverability=False).normalized, None
    except EmailNotValidError as exc:
        return "", f"{address!r} is not a valid email address: {exc}"


def _webhook(url: str) -> str | None:
    if any(c.isspace() for c in url):
        return f"{url!r} is not a URL (it contains spaces)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a valid URL: {exc}"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} is not an https:// URL"
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        return f"{url!r}: webhooks must use https:// (http:// only for a local test server)"
    if parts.username or parts.password:
        return f"{url!r} must not carry a user name or password"
    del port
    return None


def _messages(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p not in ("channel", "target"))
        message = err["msg"].removeprefix("Value error, ")
        out.append(f"{loc}: {message}" if loc else message)
    return out


def _shown(sub: Subscription) -> str:
    return sub.target_id if sub.channel == "slack_webhook" else sub.target
