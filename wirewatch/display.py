"""Pure: how records look in a terminal (rich Text), for `tail` and `search`.

Nothing here talks to Kafka or Elasticsearch; callers pass decoded records
and where they came from.
"""

from __future__ import annotations

import re
from datetime import datetime

from rich.text import Text

from .model import DeadLetter, Match, MatchedStory, Story, StoryMatches
from .snippets import lead, passages

HEADLINE = "bold"
MARK = "bold black on yellow"
RULES = "bold magenta"
DIM = "dim"


def when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%SZ") if dt else "(no time)"


def _marked(text: str, spans: list[tuple[int, int]], context: int = 70) -> Text:
    out = Text()
    for i, p in enumerate(passages(text, spans, context=context, limit=2)):
        if i:
            out.append("  ")
        if p.lead:
            out.append("…", DIM)
        for piece, marked in p.segments:
            out.append(piece, MARK if marked else None)
        if p.trail:
            out.append("…", DIM)
    return out


def grep_spans(text: str, needle: str | None) -> list[tuple[int, int]]:
    if not needle:
        return []
    return [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text, re.I)]


def story_lines(
    story: Story,
    rules: tuple[str, ...] = (),
    title_spans: list[tuple[int, int]] | None = None,
    body_spans: list[tuple[int, int]] | None = None,
) -> list[Text]:
    head = Text()
    head.append(when(story.published or story.received), "cyan")
    head.append("  ")
    if rules:
        head.append("[" + ", ".join(rules) + "] ", RULES)
    title = story.title or "(no headline)"
    if title_spans:
        head.append_text(_marked(title, title_spans, context=len(title)))
        head.stylize(HEADLINE, len(head) - len(title))
    else:
        head.append(title, HEADLINE)
    lines = [head]
    if body_spans:
        lines.append(Text("  ").append_text(_marked(story.body, body_spans)))
    elif story.body.strip():
        lines.append(Text("  " + lead(story.body, 200)))
    return lines


def match_lines(match: Match, grep: str | None = None) -> list[Text]:
    s = match.story
    title = [(h.start, h.end) for h in match.hits if h.field == "title"] + grep_spans(s.title, grep)
    body = [(h.start, h.end) for h in match.hits if h.field == "body"] + grep_spans(s.body, grep)
    return story_lines(s, (match.rule_id,), title, body)


def story_matches_lines(group: StoryMatches, grep: str | None = None) -> list[Text]:
    s = group.story
    return story_lines(s, group.rules, grep_spans(s.title, grep), grep_spans(s.body, grep))


def matched_lines(item: MatchedStory, grep: str | None = None) -> list[Text]:
    s = item.story
    return story_lines(s, item.rules, grep_spans(s.title, grep), grep_spans(s.body, grep))


def plain_story_lines(story: Story, grep: str | None = None) -> list[Text]:
    return story_lines(story, (), grep_spans(story.title, grep), grep_spans(story.body, grep))


def dead_letter_lines(dl: DeadLetter) -> list[Text]:
    head = Text()
    head.append(when(dl.at), "cyan")
    head.append(f"  {dl.stage}: ", "bold red")
    head.append(dl.reason)
    src = Text(f"  from {dl.topic}[{dl.partition}]@{dl.offset} key={dl.key}  ", DIM)
    src.append(lead(dl.payload, 120))
    return [head, src]


def origin(topic: str, partition: int, offset: int, key: bytes | None) -> Text:
    k = key.decode("utf-8", "replace") if key else "-"
    return Text(f"  {topic}[{partition}]@{offset} key={k}", DIM)
