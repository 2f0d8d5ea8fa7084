"""Messages the gap guard read back count as acknowledged in Faust's consumer, so its commit passes them.

Faust's own consumer object (no connection is made) decides what it would
commit: `_filter_committable_offsets` is the step its commit timer takes.
"""

import asyncio

import pytest
from faust.types import TP

from wirewatch.pipeline.faust_app import create_app
from wirewatch.pipeline.progress import acknowledge, faust_gaps
from wirewatch.settings import Settings

TOPIC = "stories"
tp = TP(TOPIC, 1)


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(home=tmp_path))


def would_commit(consumer) -> int | None:
    offset = consumer._filter_committable_offsets([tp]).get(tp)
    if offset is not None:
        # What `Consumer._commit_offsets` records once Kafka took the commit.
        consumer._committed_offset[tp] = offset
    return offset


def test_a_read_back_at_the_tail_is_committed_though_nothing_arrives_after_it(app):
    consumer = app.consumer
    consumer._committed_offset[tp] = 300
    # The guard read back 300..603 (the stream never delivered them) and
    # processed them; the partition starts at 0.
    faust_gaps(app)(TOPIC, 1, 0, 603)
    assert would_commit(consumer) == 604


def test_faust_s_own_gap_at_the_tail_never_becomes_a_commit(app):
    # Why `faust_gaps` does not use `Consumer._add_gap`: with no message
    # acknowledged after the gap, the commit stays where it was.
    consumer = app.consumer
    consumer._committed_offset[tp] = 300
    asyncio.run(consumer._add_gap(tp, 0, 603))
    assert would_commit(consumer) is None


def test_the_commit_stops_at_the_first_message_still_in_flight(app):
    consumer = app.consumer
    consumer._committed_offset[tp] = 100
    acknowledge(consumer, tp, 0, 149)      # read back and processed
    acknowledge(consumer, tp, 151, 160)    # the stream went on; 150 is still being processed
    assert would_commit(consumer) == 150
    acknowledge(consumer, tp, 150, 150)
    assert would_commit(consumer) == 161


def test_offsets_before_the_commit_or_already_acknowledged_count_once(app):
    consumer = app.consumer
    consumer._committed_offset[tp] = 100
    assert acknowledge(consumer, tp, 0, 109) == 10      # 100..109
    assert acknowledge(consumer, tp, 105, 119) == 10    # 110..119
    assert acknowledge(consumer, tp, 0, 119) == 0
    assert sorted(consumer._acked[tp]) == list(range(100, 120))
    assert would_commit(consumer) == 120


def test_a_partition_never_committed_counts_from_its_start(app):
    consumer = app.consumer
    assert acknowledge(consumer, tp, 40, 49) == 10
    assert would_commit(consumer) == 50
