"""New, updated, unchanged or stale: what ingest decides for a story read again."""

from producers.ingest.identity import Seen, decide
from producers.sources.fingerprint import fingerprint
from wirewatch.model import Story


def story(**kw) -> Story:
    base = dict(id="urn:1", source="s", title="Quake hits", body="A quake hit.")
    base.update(kw)
    return Story(**base)


def test_feed_items_get_versions_from_their_changes():
    first = decide(story(), None, provider_versions=False)
    assert (first.action, first.story.version) == ("new", 1)
    again = decide(story(), first.seen, provider_versions=False)
    assert (again.action, again.send) == ("unchanged", False)
    edited = decide(story(body="A strong quake hit."), first.seen, provider_versions=False)
    assert (edited.action, edited.story.version) == ("updated", 2)
    # The feed still says version 1 (feeds have none); what was sent last is v2 with the new words.
    after = decide(story(body="A strong quake hit."), edited.seen, provider_versions=False)
    assert (after.action, after.story.version) == ("unchanged", 2)
    third = decide(story(body="A strong quake hit; 3 dead."), edited.seen, provider_versions=False)
    assert (third.action, third.story.version) == ("updated", 3)


def test_redating_an_item_is_not_a_change():
    from datetime import datetime, timezone

    sent = decide(story(published=datetime(2026, 1, 1, tzinfo=timezone.utc)), None, provider_versions=False)
    later = decide(story(published=datetime(2026, 1, 2, tzinfo=timezone.utc)), sent.seen, provider_versions=False)
    assert later.action == "unchanged"


def test_provider_versions_are_kept_and_old_ones_not_sent_again():
    v2 = story(version=2)
    first = decide(v2, None, provider_versions=True)
    assert (first.action, first.story.version) == ("new", 2)
    assert decide(story(version=1, body="older"), first.seen, provider_versions=True).action == "stale"
    assert decide(story(version=2), first.seen, provider_versions=True).action == "unchanged"
    v3 = decide(story(version=3, signals=("correction",)), first.seen, provider_versions=True)
    assert (v3.action, v3.story.version, v3.story.signals) == ("updated", 3, ("correction",))


def test_a_kill_under_a_new_version_is_sent():
    sent = Seen(fingerprint(story()), 1)
    kill = decide(story(version=2, pubstatus="canceled", signals=("kill",)), sent, provider_versions=True)
    assert (kill.action, kill.story.pubstatus, kill.story.signals) == ("updated", "canceled", ("kill",))


def test_changed_words_under_the_same_provider_version_become_the_next_version():
    sent = Seen(fingerprint(story(version=4)), 4)
    silent = decide(story(version=4, title="Quake hits city"), sent, provider_versions=True)
    assert (silent.action, silent.story.version) == ("updated", 5)


def test_embargo_moved_is_a_change():
    from datetime import datetime, timezone

    sent = decide(story(embargo=datetime(2026, 1, 1, 12, tzinfo=timezone.utc)), None, provider_versions=False)
    moved = decide(story(embargo=datetime(2026, 1, 1, 14, tzinfo=timezone.utc)), sent.seen, provider_versions=False)
    assert moved.action == "updated"
