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
import threading
import time
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, parseaddr

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


# No folding: every header is one line (the generator of the legacy API
# would fold a long list of story ids at its commas, adding spaces).
_FLAT = compat32.clone(max_line_length=0, linesep="\r\n")
# Under SMTP's 998-character line limit, with room for the header's name.
STORIES_HEADER_MAX = 900
# A connection unused this long is closed rather than tried again: servers
# drop idle clients (Postfix after 300 s), and a host that went away without
# closing it would cost a timeout before the new connection.
IDLE_SECONDS = 30.0


def _header(value: str) -> str | Header:
    # One line whatever the value (no header injection), and RFC 2047 words for non-ASCII.
    value = " ".join(value.splitlines())
    return value if value.isascii() else Header(value, "utf-8")


def _stories_header(stories: tuple[str, ...]) -> str:
    shown: list[str] = []
    used = 0
    for story in stories[:50]:
        used += len(story) + 1
        if used > STORIES_HEADER_MAX:
            break
        shown.append(story)
    return ",".join(shown)


class EmailSender:
    """Builds and sends one message per alert and recipient.

    Messages are built with the email package's legacy API (`email.mime`),
    which costs a fraction of `EmailMessage`'s header registry: at a few
    thousand alerts a minute that was the largest part of the alert stage.
    Connections are kept and reused (at most one per send in flight), so a
    message costs MAIL, RCPT and DATA rather than a new connection, EHLO,
    STARTTLS and login each time.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        self.envelope_from = parseaddr(settings.smtp_from)[1] or settings.smtp_from
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()

    def message(self, content: EmailContent, to: str, alert_id: str, rule_id: str, kind: str = "instant",
                stories: tuple[str, ...] = ()) -> MIMEMultipart:
        msg = MIMEMultipart("alternative")
        msg["From"] = _header(self.settings.smtp_from)
        msg["To"] = _header(to)
        msg["Subject"] = _header(content.subject)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        # The same alert always has the same Message-ID, so a mail reader
        # folds a copy that a crash between "sent" and "recorded" let through.
        domain = self.settings.smtp_from.rpartition("@")[2].rstrip(">") or "wirewatch"
        msg["Message-ID"] = _header(f"<{alert_id}@{domain}>")
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        msg["X-WireWatch-Rule"] = _header(rule_id)
        msg["X-WireWatch-Alert"] = _header(alert_id)
        # For mail filters and for measuring: what kind of alert, about which stories.
        msg["X-WireWatch-Kind"] = kind
        if stories:
            msg["X-WireWatch-Stories"] = _header(_stories_header(stories))
        msg.attach(MIMEText(content.text, "plain", "utf-8"))
        msg.attach(MIMEText(content.html, "html", "utf-8"))
        return msg

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.smtp_ca_file:
            context.load_verify_locations(cafile=str(self.settings.smtp_ca_file))
        return context

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=self._tls(),
                                                    local_hostname=_local_hostname())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, local_hostname=_local_hostname())
        try:
            if s.smtp_security == "starttls":
                client.starttls(context=self._tls())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                client.login(s.smtp_username, password)
            client.ehlo_or_helo_if_needed()
        except BaseException:
            client.close()
            raise
        return client

    def _reusable(self) -> smtplib.SMTP | None:
        """A kept connection not idle for long, or None."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                client, since = self._idle.pop()
            if time.monotonic() - since < IDLE_SECONDS:
                return client
            _close(client, polite=True)

    def _keep(self, client: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self.settings.alerts_concurrency:
                self._idle.append((client, time.monotonic()))
                return
        _close(client, polite=True)

    def send_message(self, msg: Message, to: str) -> None:
        """Send one message (blocking); raises TransientError or PermanentError."""
        data = msg.as_bytes(policy=_FLAT)
        client = None
        try:
            client = self._started()
            code, reply = client.rcpt(to)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
            code, reply = client.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            # After an error the session's state is unsure: never reused.
            if client is not None:
                _close(client)
            raise classify(exc, self.server) from exc
        self._keep(client)

    def _started(self) -> smtplib.SMTP:
        """A connection whose server took our MAIL FROM: a kept one, else a new one."""
        client = self._reusable()
        if client is not None:
            try:
                self._mail(client)
                return client
            except (smtplib.SMTPServerDisconnected, OSError):
                # Closed by the server while idle: nothing of this message
                # went out, so a new connection takes it at once.
                _close(client)
            except BaseException:
                _close(client)
                raise
        client = self._connect()
        try:
            self._mail(client)
        except BaseException:
            _close(client)
            raise
        return client

    def _mail(self, client: smtplib.SMTP) -> None:
        code, reply = client.mail(self.envelope_from)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self.envelope_from)

    def close(self) -> None:
        """Say goodbye on the kept connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for client, _ in idle:
            _close(client, polite=True)

    async def send(self, content: EmailContent, to: str, alert_id: str, rule_id: str, kind: str = "instant",
                   stories: tuple[str, ...] = ()) -> None:
        msg = self.message(content, to, alert_id, rule_id, kind, stories)
        await asyncio.to_thread(self.send_message, msg, to)


def _close(client: smtplib.SMTP, polite: bool = False) -> None:
    try:
        if polite:
            client.quit()
        else:
            client.close()
    except (smtplib.SMTPException, OSError):
        client.close()


@functools.cache
def _local_hostname() -> str:
    # What smtplib says in EHLO, looked up once: it resolves the machine's
    # name anew for every connection otherwise, a DNS round trip per email.
    return socket.getfqdn()
