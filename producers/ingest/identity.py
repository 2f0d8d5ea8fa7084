"""Whether a story read again is new, a new version, or one already sent.  Pure.

What was sent last for each story id is remembered as (fingerprint,
version).  Feeds carry no versions: an item whose words changed is the next
version of its story.  NewsML-G2 and ninjs carry the provider's version: a
higher one is sent as it is, a lower one is an old version arriving late and
is not sent again; changed words under the same version (a provider that
corrected without saying so) become the next version, so the change still
supersedes what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wirewatch.model import Story

from producers.sources.fingerprint import fingerprint

Action = Literal["new", "updated", "unchanged", "stale"]


@dataclass(frozen=True)
class Seen:
    fingerprint: str
    version: int


@dataclass(frozen=True)
class Decision:
    action: Action
    story: Story
    fingerprint: str

    @property
    def send(self) -> bool:
        return self.action in ("new", "updated")

    @property
    def seen(self) -> Seen:
        return Seen(self.fingerprint, self.story.version)


def decide(story: Story, prev: Seen | None, *, provider_versions: bool) -> Decision:
    fp = fingerprint(story)
    if not provider_versions:
        if prev is None:
            return Decision("new", _versioned(story, 1), fp)
        if prev.fingerprint == fp:
            return Decision("unchanged", _versioned(story, prev.version), fp)
        return Decision("updated", _versioned(story, prev.version + 1), fp)
    if prev is None:
        return Decision("new", story, fp)
    if story.version > prev.version:
        return Decision("updated", story, fp)
    if story.version < prev.version:
        return Decision("stale", story, fp)
    if prev.fingerprint == fp:
        return Decision("unchanged", story, fp)
    return Decision("updated", _versioned(story, prev.version + 1), fp)


def _versioned(story: Story, version: int) -> Story:
    return story if story.version == version else story.model_copy(update={"version": version})
