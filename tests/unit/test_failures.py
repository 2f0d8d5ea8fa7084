"""The per-message failure policy: what parks, what waits, what is retried as a bug."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from wirewatch.errors import InputError, PermanentError, ServiceUnavailable
from wirewatch.pipeline.deadletter import DeadLetters
from wirewatch.pipeline.failures import PerMessage, verdict
from wirewatch.pipeline.progress import Raw


class _Sent:
    def __init__(self) -> None:
        self.records: list[dict] = []

    async def wait(self) -> None:
        return None

    def __await__(self):
        return self.wait().__await__()


class TopicStandIn:
    """Records what would go to the dead-letter topic (no broker in unit tests)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def get_topic_name(self) -> str:
        return "t.deadletter"

    async def send(self, key=None, value=None, force=False):
        self.sent.append(json.loads(value))
        return _Sent()


MSG = Raw("t.alerts", 1, 42, b"k", b'{"x": 1}')


def policy(**kw) -> tuple[PerMessage, TopicStandIn]:
    topic = TopicStandIn()
    return PerMessage("alerts", DeadLetters(topic), logging.getLogger("test.failures"), initial_wait_s=0.01, max_wait_s=0.02, **kw), topic


def test_verdicts():
    from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

    assert verdict(InputError("bad")) == "park"
    assert verdict(PermanentError("550")) == "park"
    assert verdict(ServiceUnavailable("down")) == "wait"
    assert verdict(KafkaTimeoutError()) == "wait"
    assert verdict(MessageSizeTooLargeError()) == "park"
    assert verdict(TypeError("'NoneType' object is not iterable")) == "bug"


def test_bad_input_is_parked_with_where_it_came_from_and_no_traceback(caplog):
    failures, topic = policy()

    async def handle(msg):
        raise InputError("not a valid Alert", msg.where())

    assert asyncio.run(failures.run(handle, MSG)) is False
    [letter] = topic.sent
    assert (letter["stage"], letter["topic"], letter["partition"], letter["offset"]) == ("alerts", "t.alerts", 1, 42)
    assert "traceback" not in letter
    assert "alerts: parked t.alerts[1]@42 on t.deadletter" in caplog.text


def test_an_error_in_our_code_is_retried_with_its_traceback_not_parked(caplog):
    failures, topic = policy()
    calls = []

    async def handle(msg):
        calls.append(msg.offset)
        if len(calls) < 3:
            raise TypeError("'NoneType' object is not iterable")

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(failures.run(handle, MSG)) is True
    assert calls == [42, 42, 42] and topic.sent == []
    assert "t.alerts[1]@42 failed (attempt 1)" in caplog.text
    assert "Traceback (most recent call last)" in caplog.text and "in handle" in caplog.text


def test_a_server_that_is_down_is_waited_for():
    failures, topic = policy(bug_horizon_s=0.0)
    calls = []

    async def handle(msg):
        calls.append(1)
        if len(calls) < 4:
            raise ServiceUnavailable("SMTP at 127.0.0.1:1: refused")

    assert asyncio.run(failures.run(handle, MSG)) is True
    assert len(calls) == 4 and topic.sent == []


def test_past_its_horizon_a_bug_parks_the_message_with_the_traceback(caplog):
    failures, topic = policy(bug_horizon_s=0.05)

    async def handle(msg):
        raise KeyError("rules")

    assert asyncio.run(failures.run(handle, MSG)) is False
    [letter] = topic.sent
    assert letter["error_type"] == "KeyError" and "Traceback" in letter["traceback"] and "in handle" in letter["traceback"]
    assert failures.parked == 1
    parked = [r for r in caplog.records if "parked" in r.getMessage()]
    assert parked and "Traceback" in parked[0].getMessage()


def test_a_batch_parks_what_is_left_of_it():
    failures, topic = policy()
    left = [Raw("t.matched", 0, i, None, b"{}") for i in (7, 9)]

    async def handle(batch):
        raise PermanentError("HTTP 403 forbidden")

    assert asyncio.run(failures.run(handle, object(), parks=lambda: left)) is False
    assert [d["offset"] for d in topic.sent] == [7, 9]


def test_cancellation_is_not_a_failure():
    failures, topic = policy()

    async def handle(msg):
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(failures.run(handle, MSG))
    assert topic.sent == []


class FlakyTopic(TopicStandIn):
    """Takes every record at once but acknowledges the first one with an error, as a broker gone away would."""

    def __init__(self) -> None:
        super().__init__()
        self.unacked: list[asyncio.Future] = []

    async def send(self, key=None, value=None, force=False):
        self.sent.append(json.loads(value))
        done = asyncio.get_running_loop().create_future()
        if len(self.sent) == 1:
            done.set_exception(ServiceUnavailable("broker went away"))
        else:
            done.set_result(None)
        self.unacked.append(done)
        return done


def test_parked_later_messages_are_on_the_topic_once_settled_and_a_lost_one_is_parked_again():
    topic = FlakyTopic()
    failures = PerMessage("match", DeadLetters(topic), logging.getLogger("test.failures"), initial_wait_s=0.01,
                          max_wait_s=0.02, park_later=True)

    async def bad(message):
        raise InputError("not a valid Story", message.where())

    async def scenario():
        messages = [Raw("t.stories", 0, offset, b"k", b"{}") for offset in range(3)]
        for m in messages:
            assert await failures.run(bad, m) is False
        assert len(topic.sent) == 3  # handed over, none awaited yet
        await failures.settle()

    asyncio.run(scenario())
    # The first acknowledgement failed: that message was parked again, the others once.
    assert [r["offset"] for r in topic.sent] == [0, 1, 2, 0]
    assert failures.parked == 3
