"""Hashes of what a story says: to tell a changed story from a repeated one, and to name items that have no id."""

from __future__ import annotations

import hashlib
import json
import unicodedata

from wirewatch.model import Story


def _digest(parts: list) -> str:
    # NFC first: the same words sent once composed and once decomposed are
    # the same words.
    text = unicodedata.normalize("NFC", json.dumps(parts, ensure_ascii=False, separators=(",", ":")))
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(story: Story) -> str:
    """Equal for two copies of a story whose content is the same, different when any of it changed.

    A feed gives no version numbers: a poller that sees an id again with a
    different fingerprint has a new version.  Only what a reader sees counts:
    id, version, source and the publishing times are left out, so a feed
    that merely re-dates an unchanged item does not make it new.  The
    embargo counts: a lifted or moved embargo changes what may be done with
    the story.
    """
    embargo = story.embargo.isoformat() if story.embargo else None
    parts = [story.title, story.body, story.url, list(story.subjects), list(story.places), story.language, story.pubstatus, embargo]
    return "sha256:" + _digest(parts)


def content_id(title: str, body: str) -> str:
    """A stable id for an item that has neither a guid nor a link."""
    return "sha256:" + _digest([title, body])[:32]
