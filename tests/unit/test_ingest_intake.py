"""What ingest remembers after a batch: only what Kafka acknowledged, and a feed's ETag only when all was.

The sender here is a stand-in for ingest's own Sender (no Kafka client is
involved): it acknowledges every story except those it is told to refuse.
"""

import asyncio
from dataclasses import dataclass

import pytest

from producers.ingest.intake import Counters, Intake
from producers.ingest.state import State
from wirewatch.errors import ServiceUnavailable
from wirewatch.model import Story


@dataclass
class Acked:
    topic: str
    partition: int
    offset: int


class Sender:
    up = True

    def __init__(self, refuse=()):
        self.refuse = set(refuse)
        self.sent: list[Story] = []

    async def send(self, story):
        await asyncio.sleep(0)
        if story.id in self.refuse:
            raise ServiceUnavailable(f"Kafka did not acknowledge story {story.id}")
        self.sent.append(story)
        return Acked("t", 0, len(self.sent) - 1)


def stories(*ids, body="words"):
    return [Story(id=i, source="s", title=i, body=body) for i in ids]


def test_only_acknowledged_stories_are_remembered_and_the_etag_only_when_all_were(tmp_path):
    state = State(tmp_path / "s.sqlite")
    counters = Counters("feed")
    http = ("http://x/feed", '"v1"', None)
    intake = Intake(state, Sender(refuse={"b"}))
    with pytest.raises(ServiceUnavailable, match="1 of 3 stories not acknowledged"):
        asyncio.run(intake.take("f", stories("a", "b", "c"), counters, provider_versions=False, http=http))
    assert state.seen("f", "a") and state.seen("f", "c") and state.seen("f", "b") is None
    assert state.validators("f", "http://x/feed") == (None, None)

    intake = Intake(state, Sender())
    tally = asyncio.run(intake.take("f", stories("a", "b", "c"), counters, provider_versions=False, http=http))
    assert (tally.new, tally.unchanged, tally.ids) == (1, 2, ["b"])
    assert state.validators("f", "http://x/feed") == ('"v1"', None)
    assert (counters.new, counters.unchanged, counters.items) == (3, 2, 6)


def test_an_item_twice_in_one_batch_is_sent_once_and_an_edit_in_it_as_the_next_version(tmp_path):
    sender = Sender()
    intake = Intake(State(tmp_path / "s.sqlite"), sender)
    batch = [*stories("a"), *stories("a"), *stories("a", body="edited")]
    tally = asyncio.run(intake.take("f", batch, Counters("feed"), provider_versions=False))
    assert [(s.id, s.version) for s in sender.sent] == [("a", 1), ("a", 2)]
    assert (tally.new, tally.updated, tally.unchanged) == (1, 1, 1)


def test_nothing_is_sent_while_kafka_is_down(tmp_path):
    sender = Sender()
    sender.up = False
    sender.unavailable = lambda: "Kafka at k:9092 is not reachable (refused)"
    sender.connect_later = lambda: None
    intake = Intake(State(tmp_path / "s.sqlite"), sender)
    with pytest.raises(ServiceUnavailable, match="not reachable"):
        asyncio.run(intake.take("p", stories("a"), Counters("push"), provider_versions=True))
    assert sender.sent == [] and intake.state.seen("p", "a") is None
