"""What a test session deletes at its end: only what carries a name it handed out."""

from support import names


def test_only_topics_indices_and_templates_of_the_names_handed_out_are_ours():
    mine = {"test-0123456789ab", "t0123456789"}
    for name in ("test-0123456789ab", "test-0123456789ab.stories", "test-0123456789ab-alerts-handled-changelog",
                 "test-0123456789ab-template", "t0123456789.matches"):
        assert names.ours(name, mine), name
    for name in ("wirewatch.stories", "wirewatch", "test-0123456789abc.stories", "test-0123456789", "t01234567890.rules",
                 "bench-100000-1w-abcdef.stories"):
        assert not names.ours(name, mine), name


def test_fresh_names_differ_and_keep_their_prefix():
    a, b = names.fresh(), names.fresh("t", 10)
    assert a != b and a.startswith("test-") and len(a) == len("test-") + 12
    assert b.startswith("t") and len(b) == 11
