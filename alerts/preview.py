"""What `wirewatch alerts preview` and `wirewatch alerts send` do.

Preview renders, for one rule and one story file, the email and the Slack
message that rule would produce; it needs no subscribers and no servers.
Send delivers that same alert to each of the rule's subscribers, the way a
user tries a new rule before trusting it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from wirewatch.errors import ConfigError, InputError, RuleError, WireWatchError
from wirewatch.model import Alert, Hit, Match, Story
from wirewatch.query import Matcher
from wirewatch.settings import Settings

from . import render
from .delivery import Dispatcher
from .retry import retrying
from .rulebook import RuleBook
from .subscriptions import RuleAlerting, Subscription, check_rule, parse


def load_rule(rules_file: Path, rule_id: str) -> tuple[RuleAlerting, list[str]]:
    """The rule's alerting settings and the problems in them.

    With problems, the subscribers are left out (a preview still renders).
    """
    from wirewatch.rules import load_rules

    rules, problems = load_rules(rules_file)
    for rule in rules:
        if rule.id == rule_id:
            raw = rule.to_dict()
            found = check_rule(rule_id, raw)
            if found:
                return RuleAlerting(rule_id, rule.name, rule.query, ()), found
            return parse(rule_id, raw), []
    mine = [str(p) for p in problems if p.rule_id == rule_id]
    raise ConfigError("; ".join(mine) if mine else f"no rule {rule_id!r} in {rules_file}")


def load_story(path: Path, story_id: str | None = None) -> Story:
    """The first story of a story file, or the one with `story_id`."""
    from producers.sources import read_stories

    for story in read_stories([path], on_error=lambda exc: None):
        if story_id is None or story.id == story_id:
            return story
    raise InputError(f"no story {story_id!r} in this file" if story_id else "no readable story in this file", str(path))


def hits_of(rule: RuleAlerting, story: Story) -> tuple[Hit, ...]:
    """Where the rule's words are in the story, as the matcher finds them (none if it does not match)."""
    if not rule.query:
        return ()
    matcher = Matcher()
    matcher.add(rule.rule_id, rule.query)
    return tuple(matcher.hits(story.title, story.body).get(rule.rule_id, ()))


def alert_for(rule: RuleAlerting, story: Story, sub: Subscription | None = None) -> Alert:
    hits = hits_of(rule, story)
    match = render.compact(Match(rule_id=rule.rule_id, story=story, hits=hits))
    return Alert(
        alert_id=f"test-{uuid.uuid4().hex[:16]}",
        rule_id=rule.rule_id,
        rule_name=rule.name,
        channel=sub.channel if sub else "preview",
        target=sub.target_id if sub else "preview",
        matches=(match,),
    )


def rendered(alert: Alert, settings: Settings) -> dict:
    """`{"email": {"subject", "text", "html"}, "slack": <Block Kit payload>}`."""
    link = render.search_link(settings, alert.rule_id)
    content = render.email(alert, render.Templates(settings.templates_dir), link)
    return {
        "email": {"subject": content.subject, "text": content.text, "html": content.html},
        "slack": render.slack(alert, link),
    }


@dataclass
class Outcome:
    subscription: Subscription
    ok: bool
    detail: str


async def send(rule: RuleAlerting, story: Story, settings: Settings, timeout: float, console=None) -> list[Outcome]:
    """Deliver the rule's alert for `story` to every subscriber, retrying transient failures until `timeout`."""
    if not rule.subscribers:
        raise RuleError(rule.rule_id, "has no subscribers to send to")
    dispatcher = Dispatcher(settings, lambda: RuleBook({rule.rule_id: rule}), console)
    outcomes = []
    try:
        for sub in rule.subscribers:
            alert = alert_for(rule, story, sub)
            try:
                attempts = await retrying(lambda alert=alert: dispatcher.deliver(alert), deadline=time.time() + timeout,
                                          settings=settings)
            except WireWatchError as exc:
                outcomes.append(Outcome(sub, False, str(exc)))
            else:
                outcomes.append(Outcome(sub, True, f"sent ({attempts} attempt{'s' if attempts > 1 else ''})"))
    finally:
        await asyncio.to_thread(dispatcher.close)
    return outcomes
