"""Which delivery failures are worth retrying, and the rules file that follows edits."""

import smtplib
import socket
import ssl

import pytest

from alerts.email import classify
from alerts.rulebook import RuleBook, RulesFile
from alerts.slack import classify_api, classify_webhook
from wirewatch.errors import ConfigError, PermanentError, RateLimited, TransientError


@pytest.mark.parametrize(
    "exc, kind",
    [
        (ConnectionRefusedError(111, "refused"), TransientError),
        (socket.timeout("timed out"), TransientError),
        (smtplib.SMTPServerDisconnected("gone"), TransientError),
        (smtplib.SMTPConnectError(421, b"busy"), TransientError),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"mailbox busy")}), TransientError),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no such user")}), PermanentError),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "w@x.org"), PermanentError),
        (smtplib.SMTPDataError(451, b"try later"), TransientError),
        (smtplib.SMTPDataError(554, b"spam"), PermanentError),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), PermanentError),
        (smtplib.SMTPAuthenticationError(454, b"temporary auth failure"), TransientError),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), PermanentError),
        (ssl.SSLCertVerificationError("self-signed"), PermanentError),
    ],
)
def test_smtp_failures(exc, kind):
    error = classify(exc, "SMTP host:25")
    assert isinstance(error, kind)
    assert error.retriable == (kind is TransientError)
    assert str(error).startswith("SMTP host:25")


@pytest.mark.parametrize(
    "status, body, headers, kind",
    [
        (200, "ok", {}, None),
        (429, "rate_limited", {"Retry-After": "30"}, RateLimited),
        (500, "oops", {}, TransientError),
        (503, "", {}, TransientError),
        (400, "invalid_payload", {}, PermanentError),
        (403, "invalid_token", {}, PermanentError),
        (404, "no_service", {}, PermanentError),
        (410, "channel_is_archived", {}, PermanentError),
    ],
)
def test_webhook_answers(status, body, headers, kind):
    error = classify_webhook(status, body, headers, "hook")
    if kind is None:
        assert error is None
    else:
        assert isinstance(error, kind)
    if kind is RateLimited:
        assert error.retry_after == 30.0 and error.retriable


def test_web_api_answers():
    assert isinstance(classify_api(200, "channel_not_found", {}, "api"), PermanentError)
    assert isinstance(classify_api(200, "invalid_auth", {}, "api"), PermanentError)
    limited = classify_api(429, "ratelimited", {"retry-after": ["12"]}, "api")
    assert isinstance(limited, RateLimited) and limited.retry_after == 12.0
    assert isinstance(classify_api(200, "internal_error", {}, "api"), TransientError)
    assert isinstance(classify_api(502, None, {}, "api"), TransientError)
    assert classify_api(429, None, {"Retry-After": "soon"}, "api").retry_after is None


def test_rule_book_reports_every_problem_and_duplicate_ids(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {id: a, query: x, subscribers: [{email: 'bad@'}]}\n"
        "  - {id: b, query: y, subscribers: [{console: true}]}\n"
        "  - {id: b, query: z}\n"
    )
    with pytest.raises(ConfigError) as info:
        RuleBook.from_file(path)
    assert "rule 'a': subscriber 1: email" in str(info.value)
    assert "rule 'b': two rules have this id" in str(info.value)
    lenient = RuleBook.from_rules(
        [("a", {"subscribers": [{"email": "bad@"}]}), ("b", {"subscribers": [{"console": True}]})], strict=False
    )
    assert list(lenient.rules) == ["b"]


def test_rules_file_follows_edits_and_keeps_the_last_good_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [{id: a, query: x, subscribers: [{console: true}]}]\n")
    now = [0.0]
    rules = RulesFile(path, check_every=5, clock=lambda: now[0])
    assert list(rules().rules) == ["a"]
    path.write_text("rules: [{id: a, query: x}, {id: b, query: y, subscribers: [{email: b@example.com}]}]\n")
    assert list(rules().rules) == ["a"]  # not looked at again yet
    now[0] = 6
    assert list(rules().rules) == ["a", "b"]
    path.write_text("rules: [{id: a, query: x, subscribers: [{sms: 1}]}]\n")
    now[0] = 12
    assert list(rules().rules) == ["a", "b"]  # a broken edit changes nothing
