"""When the worker's matching or indexing counts as behind, for the alert stage to give way (streams.worker)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from faust.types import TP

from streams.worker import falling_behind
from wirewatch.settings import Settings


class Consumer:
    def __init__(self, ends: dict[TP, int], committed: dict[TP, int]) -> None:
        self.ends, self._committed_offset = ends, committed

    def assignment(self):
        return set(self.ends)

    def highwater(self, tp: TP) -> int:
        return self.ends[tp]


class Guard:
    def __init__(self, processed: dict[tuple[str, int], int]) -> None:
        self.processed = processed

    def last(self, topic: str, partition: int):
        o = self.processed.get((topic, partition))
        return None if o is None else {"o": o}


def setup(ends, committed=None, processed=None, behind_until=0.0):
    settings = Settings(index_batch=500)
    s = settings.stories_topic
    app = SimpleNamespace(_consumer=Consumer({TP(s, p): e for p, e in ends.items()},
                                             {TP(s, p): c for p, c in (committed or {}).items()}))
    index_stage = SimpleNamespace(behind_until=behind_until)
    guard = Guard({(s, p): o for p, o in (processed or {}).items()})
    return falling_behind(app, settings, guard, index_stage), index_stage


def test_a_live_wire_the_worker_keeps_up_with_is_not_behind() -> None:
    behind, _ = setup({0: 10_000, 1: 9_000}, committed={0: 9_900, 1: 8_950}, processed={0: 9_950, 1: 8_999})
    assert not behind()


def test_more_stories_waiting_than_one_bulk_request_is_behind() -> None:
    # 300 + 250 waiting over two partitions: more than 500.
    behind, _ = setup({0: 10_000, 1: 9_000}, committed={0: 9_700, 1: 8_750})
    assert behind()


def test_what_the_match_stage_processed_counts_even_before_faust_commits_it() -> None:
    behind, _ = setup({0: 10_000}, committed={0: 1_000}, processed={0: 9_999})
    assert not behind()


def test_indexing_a_full_bulk_request_is_behind_until_shortly_after() -> None:
    behind, index_stage = setup({0: 10_000}, committed={0: 10_000})
    index_stage.behind_until = float("inf")  # writing a full take now
    assert behind()
    index_stage.behind_until = time.monotonic() + 0.5  # just finished one
    assert behind()
    index_stage.behind_until = time.monotonic() - 0.01
    assert not behind()


def test_nothing_assigned_yet_is_not_behind() -> None:
    settings = Settings()
    behind = falling_behind(SimpleNamespace(), settings, Guard({}), SimpleNamespace(behind_until=0.0))
    assert not behind()
