"""Deliver one alert to its subscriber: render it and hand it to the channel.

`Dispatcher.deliver` makes one attempt and raises `TransientError` or
`PermanentError`; retrying and recording the outcome are the stage's job.
Each channel type has its own limit on sends in flight, so a slow mail
server does not hold up Slack and the other way round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.console import Console

from wirewatch.errors import PermanentError
from wirewatch.model import Alert
from wirewatch.settings import Settings

from . import render
from .console import ConsoleSender
from .email import EmailSender
from .rulebook import RuleBook
from .slack import SlackSender


class Dispatcher:
    def __init__(self, settings: Settings, rules: Callable[[], RuleBook], console: Console | None = None) -> None:
        self.settings = settings
        self.rules = rules
        self.templates = render.Templates(settings.templates_dir)
        self.email = EmailSender(settings)
        self.slack = SlackSender(settings)
        self.console = ConsoleSender(console)
        self._limits: dict[str, asyncio.Semaphore] = {}

    def limit(self, channel: str) -> asyncio.Semaphore:
        """The bound on sends in flight for one channel type."""
        if channel not in self._limits:
            self._limits[channel] = asyncio.Semaphore(self.settings.alerts_concurrency)
        return self._limits[channel]

    def close(self) -> None:
        """Let go of kept connections (blocking: a goodbye to the mail server)."""
        self.email.close()

    def email_content(self, alert: Alert) -> render.EmailContent:
        try:
            return render.email(alert, self.templates, render.search_link(self.settings, alert.rule_id))
        except Exception as exc:  # a broken override template
            raise PermanentError(f"cannot render the email: {type(exc).__name__}: {exc}") from exc

    def slack_payload(self, alert: Alert) -> dict:
        return render.slack(alert, render.search_link(self.settings, alert.rule_id))

    async def deliver(self, alert: Alert) -> None:
        """One attempt, waiting for a free slot of the alert's channel type."""
        async with self.limit(alert.channel):
            await self.send(alert)

    async def send(self, alert: Alert) -> None:
        """One attempt, now (the caller holds a slot)."""
        if alert.channel == "email":
            await self.email.send(self.email_content(alert), alert.target, alert.alert_id, alert.rule_id, alert.kind,
                                  tuple(m.story.id for m in alert.matches))
        elif alert.channel == "slack_webhook":
            url = self.rules().webhook(alert.target)
            if url is None:
                raise PermanentError(f"Slack webhook {alert.target} is no longer in the rules")
            await self.slack.webhook(url, self.slack_payload(alert), alert.target)
        elif alert.channel == "slack_channel":
            await self.slack.channel(alert.target, self.slack_payload(alert))
        elif alert.channel == "console":
            await self.console.send(self.email_content(alert), alert.kind)
        else:
            raise PermanentError(f"unknown channel {alert.channel!r}")
