"""A local SMTP server that keeps what it receives: for demos and tests.

`wirewatch alerts smtp-sink` runs it; each message is kept in memory and,
with a maildir, written there as a file any mail reader (or `cat`) opens.
`refuse` makes it answer RCPT for an address with a chosen reply, to show
how delivery treats a refused recipient.
"""

from __future__ import annotations

import mailbox
import threading
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path


class MailSink:
    """An aiosmtpd handler."""

    def __init__(
        self,
        maildir: Path | None = None,
        on_message: Callable[[EmailMessage, list[str]], None] | None = None,
        keep: bool = True,
    ) -> None:
        """`keep`: hold every message in memory, parsed whole, for `received`.

        Without it (a long-running sink with a maildir) only the headers are
        parsed, for `on_message`: parsing every body costs the sink more than
        a worker spends deciding and sending the alert.
        """
        self.messages: list[tuple[EmailMessage, list[str]]] = []
        self.keep = keep
        self.refuse: dict[str, str] = {}
        self.on_message = on_message
        self._lock = threading.Lock()
        self._maildir = mailbox.Maildir(str(maildir), create=True) if maildir else None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = BytesParser(policy=policy.default).parsebytes(envelope.content, headersonly=not self.keep)
        with self._lock:
            if self.keep:
                self.messages.append((msg, list(envelope.rcpt_tos)))
            if self._maildir is not None:
                self._maildir.add(envelope.content)
        if self.on_message:
            self.on_message(msg, list(envelope.rcpt_tos))
        return "250 Message accepted"

    def received(self) -> list[tuple[EmailMessage, list[str]]]:
        with self._lock:
            return list(self.messages)


def start(handler: MailSink, host: str = "127.0.0.1", port: int = 1025, **controller_options):
    """Start an aiosmtpd server in a thread; returns the Controller (call `.stop()`)."""
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname=host, port=port, **controller_options)
    controller.start()
    return controller
