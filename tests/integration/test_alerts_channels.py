"""Email and Slack delivery against real servers on 127.0.0.1."""

import asyncio
import json
import ssl
import time

import pytest
from support.servers import SmtpServer, free_port, self_signed_cert, slack, smtp  # noqa: F401 - fixtures

from alerts import render, smtpsink
from alerts.delivery import Dispatcher
from alerts.email import EmailSender
from alerts.retry import retrying
from alerts.rulebook import RuleBook
from alerts.subscriptions import parse
from wirewatch.errors import PermanentError, RateLimited, TransientError
from wirewatch.model import Alert, Hit, Match, Story
from wirewatch.settings import Settings

pytestmark = pytest.mark.integration

HOSTILE = Story(
    id="hostile-1", source="Wire", urgency=1,
    title='Oil <img src=x onerror=alert(1)> & <!channel> *bold*',
    body=("Markets: <script>steal()</script> <!channel> <!here> <@U999> <http://evil.example|click me> *bold* _x_ "
          "crude oil jumped. " * 4000),
)


def hostile_match() -> Match:
    body = HOSTILE.body
    hits = [Hit(field="title", start=0, end=3)]
    start = body.index("crude oil")
    hits.append(Hit(field="body", start=start + 6, end=start + 9))
    return Match(rule_id="oil", story=HOSTILE, hits=tuple(hits))


def alert(channel: str, target: str, kind="instant", matches=None) -> Alert:
    return Alert(alert_id=f"{kind}-test-{channel}-{time.monotonic_ns()}", rule_id="oil", rule_name="Oil desk", kind=kind,
                 channel=channel, target=target, matches=tuple(matches or (render.compact(hostile_match()),)))


def settings_for(smtp_port: int = 1, slack_url: str = "http://127.0.0.1:1", **extra) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_timeout=5, slack_api_url=f"{slack_url}/api/",
                    slack_bot_token="xoxb-test", alerts_retry_initial_seconds=0.05, alerts_retry_max_seconds=0.2, **extra)


def book(slack_url: str) -> RuleBook:
    return RuleBook({"oil": parse("oil", {"subscribers": [{"slack_webhook": f"{slack_url}/services/T/B/X"}]})})


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------- email


def test_email_arrives_as_multipart_with_escaped_html(smtp):
    dispatcher = Dispatcher(settings_for(smtp.port), lambda: RuleBook())
    a = alert("email", "desk@example.com")
    run(dispatcher.deliver(a))
    [(msg, rcpts)] = smtp.sink.received()
    assert rcpts == ["desk@example.com"]
    assert msg["Subject"].strip().startswith("[WireWatch] Oil desk: Oil <img src=x onerror=alert(1)> & <!channel> *bold*")
    assert msg["Message-ID"] == f"<{a.alert_id}@localhost>"
    assert msg["X-WireWatch-Rule"] == "oil" and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "crude *oil* jumped" in text and "urgency 1" in text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert ">oil</mark>" in html
    assert len(html) < 20_000  # a 400 kB story still makes a short mail


def test_email_starttls_with_login(smtp, tmp_path):
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers the client itself (535 on failure).
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    server = SmtpServer(tls_context=context, require_starttls=True, authenticator=authenticator, auth_require_tls=True).start()
    try:
        good = settings_for(server.port, smtp_security="starttls", smtp_ca_file=cert, smtp_username="desk", smtp_password="s3cret")
        run(Dispatcher(good, lambda: RuleBook()).deliver(alert("email", "desk@example.com")))
        assert len(server.messages) == 1 and logins == [(b"desk", b"s3cret")]

        wrong = settings_for(server.port, smtp_security="starttls", smtp_ca_file=cert, smtp_username="desk", smtp_password="nope")
        with pytest.raises(PermanentError, match="535"):
            run(Dispatcher(wrong, lambda: RuleBook()).deliver(alert("email", "desk@example.com")))

        untrusted = settings_for(server.port, smtp_security="starttls")
        with pytest.raises(PermanentError, match="certificate"):
            run(Dispatcher(untrusted, lambda: RuleBook()).deliver(alert("email", "desk@example.com")))
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_email_over_implicit_tls(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(ssl_context=context).start()
    try:
        s = settings_for(server.port, smtp_security="tls", smtp_ca_file=cert)
        run(Dispatcher(s, lambda: RuleBook()).deliver(alert("email", "desk@example.com")))
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_email_failures_are_classified(smtp):
    smtp.sink.refuse["gone@example.com"] = "550 5.1.1 no such user"
    smtp.sink.refuse["full@example.com"] = "452 4.2.2 mailbox full"
    sender = Dispatcher(settings_for(smtp.port), lambda: RuleBook())
    with pytest.raises(PermanentError, match="550"):
        run(sender.deliver(alert("email", "gone@example.com")))
    with pytest.raises(TransientError, match="452"):
        run(sender.deliver(alert("email", "full@example.com")))
    closed = Dispatcher(settings_for(free_port()), lambda: RuleBook())
    with pytest.raises(TransientError, match="ConnectionRefused"):
        run(closed.deliver(alert("email", "desk@example.com")))
    assert smtp.messages == []


class PeerSink(smtpsink.MailSink):
    """Remembers the client address (so the connection) each message came on, and its bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[tuple] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.peers.append(session.peer)
        self.raw.append(envelope.original_content)
        return await super().handle_DATA(server, session, envelope)


def test_email_connections_are_kept_and_a_dropped_or_failed_one_is_replaced():
    server = SmtpServer()
    server.sink = PeerSink()
    server.sink.refuse["gone@example.com"] = "550 5.1.1 no such user"
    server.start()
    sender = EmailSender(settings_for(server.port))
    content = render.email(alert("email", "desk@example.com"), render.Templates())

    def send(to: str = "desk@example.com") -> None:
        run(sender.send(content, to, f"a-{time.monotonic_ns()}", "oil"))

    try:
        for _ in range(4):
            send()
        assert len(server.messages) == 4 and len(set(server.sink.peers)) == 1, "one connection for messages one after another"
        # The server goes away and comes back: the kept connection is dead, a new one takes the mail.
        server.stop()
        server.start()
        send()
        assert len(server.messages) == 5 and len(set(server.sink.peers)) == 2
        # A refusal ends that connection's use; the next message gets a fresh one.
        with pytest.raises(PermanentError, match="550"):
            send("gone@example.com")
        send()
        assert len(server.messages) == 6 and len(set(server.sink.peers)) == 3
        [(msg, _)] = server.sink.received()[-1:]
        assert msg["X-WireWatch-Rule"] == "oil" and msg.get_body(("plain",)).get_content() == content.text
    finally:
        sender.close()
        server.stop()


def test_email_headers_stay_one_line_and_non_ascii_is_encoded():
    smtp = SmtpServer()
    smtp.sink = PeerSink()
    smtp.start()
    sender = EmailSender(settings_for(smtp.port))
    content = render.EmailContent(subject="Ölpreis: «Brent» steigt\r\nBcc: victim@example.com", text="é", html="<p>é</p>")
    stories = tuple(f"https://example.com/news/2026/12/05/a-rather-long-story-address-{i}" for i in range(50))
    try:
        run(sender.send(content, "desk@example.com", "a-1", "oil", "summary", stories))
    finally:
        sender.close()
        smtp.stop()
    [(msg, rcpts)] = smtp.sink.received()
    assert rcpts == ["desk@example.com"] and msg["Bcc"] is None
    assert msg["Subject"] == "Ölpreis: «Brent» steigt Bcc: victim@example.com"
    listed = msg["X-WireWatch-Stories"].split(",")
    assert 5 < len(listed) < 50 and listed == list(stories[: len(listed)]), "as many whole ids as fit on one line"
    [raw] = smtp.sink.raw
    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert msg.get_body(("plain",)).get_content() == "é"


def test_a_mail_server_that_comes_back_gets_the_mail_once(tmp_path):
    port = free_port()
    server = SmtpServer(port)
    settings = settings_for(port)
    sender = EmailSender(settings)
    content = render.email(alert("email", "desk@example.com"), render.Templates())
    failures = []

    async def scenario():
        loop = asyncio.get_running_loop()
        loop.call_later(0.6, server.start)
        return await retrying(
            lambda: sender.send(content, "desk@example.com", "a-1", "oil"),
            deadline=time.time() + 10, settings=settings, on_retry=lambda n, exc, wait: failures.append(exc),
        )

    try:
        attempts = run(scenario())
    finally:
        server.stop()
    assert attempts >= 2 and all(isinstance(e, TransientError) for e in failures)
    assert len(server.messages) == 1


def test_retrying_gives_up_at_the_deadline_with_the_last_error():
    settings = settings_for(free_port())
    sender = EmailSender(settings)
    content = render.email(alert("email", "desk@example.com"), render.Templates())
    started = time.time()
    with pytest.raises(TransientError):
        run(retrying(lambda: sender.send(content, "desk@example.com", "a-1", "oil"), deadline=started + 1.0, settings=settings))
    assert 0.9 < time.time() - started < 3


# ---------------------------------------------------------------- Slack


def test_slack_webhook_gets_escaped_block_kit(slack):
    dispatcher = Dispatcher(settings_for(slack_url=slack.url), lambda: book(slack.url))
    sub = book(slack.url).get("oil").subscribers[0]
    sent = alert("slack_webhook", sub.target_id)
    run(dispatcher.deliver(sent))
    [request] = slack.posted("/services/T/B/X")
    payload = request.body
    assert set(payload) >= {"text", "blocks"}
    assert payload["metadata"] == {"event_type": "wirewatch_alert",
                                   "event_payload": {"alert_id": sent.alert_id, "rule_id": "oil", "kind": "instant"}}
    dumped = json.dumps(payload, ensure_ascii=False)
    for danger in ("<!channel>", "<!here>", "<@U999>", "<http://evil", "<script>", "<img", "*bold*"):
        assert danger not in dumped
    item = payload["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt;" in item and "crude *oil* jumped" in item
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if "text" in b)


def test_slack_webhook_failures_are_classified(slack):
    hook = "/services/T/B/X"
    slack.reply(hook, (429, "rate_limited", {"Retry-After": "7"}), (503, "unavailable", {}), (404, "no_service", {}))
    dispatcher = Dispatcher(settings_for(slack_url=slack.url), lambda: book(slack.url))
    target = book(slack.url).get("oil").subscribers[0].target_id
    with pytest.raises(RateLimited) as info:
        run(dispatcher.deliver(alert("slack_webhook", target)))
    assert info.value.retry_after == 7.0
    with pytest.raises(TransientError, match="503"):
        run(dispatcher.deliver(alert("slack_webhook", target)))
    with pytest.raises(PermanentError, match="404"):
        run(dispatcher.deliver(alert("slack_webhook", target)))
    with pytest.raises(PermanentError, match="no longer in the rules"):
        run(dispatcher.deliver(alert("slack_webhook", "hook-unknown")))


def test_slack_429_is_retried_after_the_time_it_asks_for(slack):
    hook = "/services/T/B/X"
    slack.reply(hook, (429, "rate_limited", {"Retry-After": "1"}))
    settings = settings_for(slack_url=slack.url)
    dispatcher = Dispatcher(settings, lambda: book(slack.url))
    target = book(slack.url).get("oil").subscribers[0].target_id
    waits = []
    run(retrying(lambda: dispatcher.deliver(alert("slack_webhook", target)), deadline=time.time() + 10, settings=settings,
                 on_retry=lambda n, exc, wait: waits.append(wait)))
    assert waits == [1.0]
    assert len(slack.posted(hook)) == 2


def test_slack_channel_via_the_web_api(slack):
    dispatcher = Dispatcher(settings_for(slack_url=slack.url), lambda: RuleBook())
    sent = alert("slack_channel", "#energy")
    run(dispatcher.deliver(sent))
    [request] = slack.posted("/api/chat.postMessage")
    assert request.headers["Authorization"] == "Bearer xoxb-test"
    assert request.body["channel"] == "#energy"
    assert request.body["metadata"]["event_payload"]["alert_id"] == sent.alert_id
    assert "&lt;!channel&gt;" in request.body["text"] and "<!channel>" not in json.dumps(request.body)
    assert request.body["blocks"][1]["type"] == "section"


def test_slack_web_api_failures_are_classified(slack):
    path = "/api/chat.postMessage"
    slack.reply(
        path,
        (200, {"ok": False, "error": "channel_not_found"}, {}),
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}),
        (200, {"ok": False, "error": "internal_error"}, {}),
    )
    dispatcher = Dispatcher(settings_for(slack_url=slack.url), lambda: RuleBook())
    with pytest.raises(PermanentError, match="channel_not_found"):
        run(dispatcher.deliver(alert("slack_channel", "#nowhere")))
    with pytest.raises(RateLimited) as info:
        run(dispatcher.deliver(alert("slack_channel", "#energy")))
    assert info.value.retry_after == 3.0
    with pytest.raises(TransientError, match="internal_error"):
        run(dispatcher.deliver(alert("slack_channel", "#energy")))
    no_token = Dispatcher(settings_for(slack_url=slack.url).model_copy(update={"slack_bot_token": None}), lambda: RuleBook())
    with pytest.raises(PermanentError, match="no bot token"):
        run(no_token.deliver(alert("slack_channel", "#energy")))


def test_slack_down_is_transient():
    dispatcher = Dispatcher(settings_for(slack_url=f"http://127.0.0.1:{free_port()}"), lambda: RuleBook())
    with pytest.raises(TransientError):
        run(dispatcher.deliver(alert("slack_channel", "#energy")))


def test_console_prints_the_alert_without_reading_markup():
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    dispatcher = Dispatcher(settings_for(), lambda: RuleBook(), console=Console(file=out, width=120, color_system=None))
    story = Story(id="c1", source="Wire", title="[bold red]not markup[/] headline", body="crude oil up")
    run(dispatcher.deliver(alert("console", "console", matches=[Match(rule_id="oil", story=story)])))
    printed = out.getvalue()
    assert "[bold red]not markup[/] headline" in printed and "crude oil up" in printed
