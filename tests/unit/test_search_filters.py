"""`wirewatch search` hides killed and withdrawn stories unless asked."""

from wirewatch.cli.search import WITHDRAWN, _filters


def test_withdrawn_stories_are_hidden_by_default():
    assert _filters(None, None) == [{"bool": {"must_not": WITHDRAWN}}]
    # Flagged by the index stage, or canceled (indexed before the flag existed).
    assert {"term": {"withdrawn": True}} in WITHDRAWN and {"term": {"pubstatus": "canceled"}} in WITHDRAWN


def test_include_withdrawn_drops_only_that_filter():
    assert _filters(["oil"], None, include_withdrawn=True) == [{"terms": {"rules": ["oil"]}}]
    assert _filters(["oil"], None)[1:] == [{"terms": {"rules": ["oil"]}}]
