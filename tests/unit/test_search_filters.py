"""`wirewatch search`, backtests and backfills leave killed and withdrawn stories out unless asked."""

from datetime import datetime, timezone

from streams.archive import since_query
from streams.indexing import NOT_WITHDRAWN, WITHDRAWN
from wirewatch.cli.search import _filters


def test_withdrawn_stories_are_hidden_by_default():
    assert _filters(None, None) == [NOT_WITHDRAWN]
    assert NOT_WITHDRAWN == {"bool": {"must_not": list(WITHDRAWN)}}
    # Flagged by the index stage, or canceled (indexed before the flag existed).
    assert {"term": {"withdrawn": True}} in WITHDRAWN and {"term": {"pubstatus": "canceled"}} in WITHDRAWN


def test_include_withdrawn_drops_only_that_filter():
    assert _filters(["oil"], None, include_withdrawn=True) == [{"terms": {"rules": ["oil"]}}]
    assert _filters(["oil"], None)[1:] == [{"terms": {"rules": ["oil"]}}]


def test_backtests_and_backfills_read_no_withdrawn_story():
    assert since_query(None) == NOT_WITHDRAWN
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert since_query(since) == {"bool": {"filter": [{"range": {"@timestamp": {"gte": since.isoformat()}}}, NOT_WITHDRAWN]}}
