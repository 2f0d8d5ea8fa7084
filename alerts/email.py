"""Send alert email over SMTP (plain, STARTTLS or TLS; optional login).

`classify` turns what smtplib raises into the project's errors: what may
work later (no connection, a 4xx reply) is a `TransientError`, what will not
(a 5xx reply for the recipient, a refused login) a `PermanentError`.
"""

from __future__ import annotations

import asyncio
import functools
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from wirewatch.errors import PermanentError, ServiceUnavailable, TransientError, WireWatchError
from wirewatch.settings import Settings

from .render import EmailContent


def classify(exc: BaseException, server: str) -> WireWatchError:
    """The project error for an exception from smtplib or the socket under it."""
    if isinstance(exc, WireWatchError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # One recipient per message, so this is about that one address.
        code, reason = next(iter(exc.recipients.values()), (550, b"refused"))
        return _by_code(code, f"{server} refused the recipient: {code} {_text(reason)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"{server}: {exc} (check WIREWATCH_SMTP_SECURITY)")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"{server} answered {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"{server}: TLS certificate not trusted: {getattr(exc, 'verify_message', None) or exc}")
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout, EOFError)):
        return ServiceUnavailable(f"{server}: {type(exc).__name__}: {exc}")
    return PermanentError(f"{server}: {type(exc).__name__}: {exc}")


def _by_code(code: int, message: str) -> WireWatchError:
    return TransientError(message) if 400 <= code < 500 else PermanentError(message)


def _text(reason: bytes | str) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


class EmailSender:
    """Builds and sends one message per alert and recipient."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = f"SMTP {settings.smtp_host}:{settings.smtp_port}"

    def message(self, content: EmailContent, to: str, alert_id: str, rule_id: str, kind: str = "instant",
                stories: tuple[str, ...] = ()) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_from
        msg["To"] = to
        msg["Subject"] = content.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        # The same alert always has the same Message-ID, so a mail reader
        # folds a copy that a crash between "sent" and "recorded" let through.
        domain = self.settings.smtp_from.rpartition("@")[2] or "wirewatch"
        msg["Message-ID"] = f"<{alert_id}@{domain}>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        msg["X-WireWatch-Rule"] = rule_id
        msg["X-WireWatch-Alert"] = alert_id
        # For mail filters and for measuring: what kind of alert, about which stories.
        msg["X-WireWatch-Kind"] = kind
        if stories:
            msg["X-WireWatch-Stories"] = ",".join(stories[:50])
        msg.set_content(content.text)
        msg.add_alternative(content.html, subtype="html")
        return msg

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.smtp_ca_file:
            context.load_verify_locations(cafile=str(self.settings.smtp_ca_file))
        return context

    def send_message(self, msg: EmailMessage) -> None:
        """Send one message (blocking); raises TransientError or PermanentError."""
        s = self.settings
        try:
            if s.smtp_security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=self._tls(),
                                                        local_hostname=_local_hostname())
            else:
                client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, local_hostname=_local_hostname())
            with client:
                if s.smtp_security == "starttls":
                    client.starttls(context=self._tls())
                if s.smtp_username:
                    password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                    client.login(s.smtp_username, password)
                client.send_message(msg)
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            raise classify(exc, self.server) from exc

    async def send(self, content: EmailContent, to: str, alert_id: str, rule_id: str, kind: str = "instant",
                   stories: tuple[str, ...] = ()) -> None:
        msg = self.message(content, to, alert_id, rule_id, kind, stories)
        await asyncio.to_thread(self.send_message, msg)


@functools.cache
def _local_hostname() -> str:
    # What smtplib says in EHLO, looked up once: it resolves the machine's
    # name anew for every connection otherwise, a DNS round trip per email.
    return socket.getfqdn()
