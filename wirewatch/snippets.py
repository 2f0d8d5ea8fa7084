"""Pure: passages of a text around matched spans, with the matched words marked.

One implementation for every place a person reads a match: the terminal
(`tail`, `search`) and alerts (email, Slack).  Spans are character offsets
into the original text, as `Matcher.hits` gives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTEXT = 80  # characters of text either side of a matched passage
LIMIT = 3  # most passages of one text
LONGEST_HIT = 200  # a span longer than this is shown cut

Segment = tuple[str, bool]  # (text, is a matched passage)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Snippet:
    segments: tuple[Segment, ...]
    lead: bool  # the text was cut before it
    trail: bool  # the text was cut after it

    @property
    def plain(self) -> str:
        return "".join(t for t, _ in self.segments)

    def marked(self, left: str, right: str, ellipsis: str = "…") -> str:
        """The passage as one line, matched words between `left` and `right`."""
        body = "".join(f"{left}{t}{right}" if hit else t for t, hit in self.segments)
        return (ellipsis if self.lead else "") + body + (ellipsis if self.trail else "")


def clean_spans(text: str, spans) -> list[tuple[int, int]]:
    """The spans that fit `text`, each cut to LONGEST_HIT, sorted and merged."""
    fitting = sorted((s, min(e, s + LONGEST_HIT)) for s, e in spans if 0 <= s < e <= len(text))
    merged: list[tuple[int, int]] = []
    for start, end in fitting:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def windows(text: str, spans: list[tuple[int, int]], context: int = CONTEXT, limit: int = LIMIT) -> list[tuple[int, int]]:
    """Stretches of `text` around clean spans, cut at word boundaries, merged, at most `limit`."""
    longest = 2 * context + LONGEST_HIT
    out: list[tuple[int, int]] = []
    for start, end in spans:
        a = max(0, start - context)
        b = min(len(text), end + context)
        if a > 0:
            space = text.find(" ", a, start)
            a = space + 1 if space != -1 else a
        if b < len(text):
            space = text.rfind(" ", end, b)
            b = space if space != -1 else b
        if out and a <= out[-1][1] + 1:
            if b - out[-1][0] <= longest:
                out[-1] = (out[-1][0], max(out[-1][1], b))
                continue
            # Hits close together all through a long text must not make
            # one endless passage: start a new one where the last ended.
            a = out[-1][1]
            if b <= a:
                continue
        if len(out) == limit:
            break
        out.append((a, b))
    return out


def segments(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> tuple[Segment, ...]:
    """`text[a:b]` cut into plain and matched pieces, white space folded to single spaces."""
    out: list[Segment] = []
    pos = a
    for start, end in spans:
        if end <= a or start >= b:
            continue
        start, end = max(start, a), min(end, b)
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < b:
        out.append((text[pos:b], False))
    folded = [(_SPACE.sub(" ", t), hit) for t, hit in out]
    if folded:
        folded[0] = (folded[0][0].lstrip(), folded[0][1])
        folded[-1] = (folded[-1][0].rstrip(), folded[-1][1])
    return tuple((t, hit) for t, hit in folded if t)


def passages(text: str, spans, context: int = CONTEXT, limit: int = LIMIT) -> tuple[Snippet, ...]:
    """Up to `limit` passages of `text` around `spans` (any order, overlaps allowed)."""
    clean = clean_spans(text, spans)
    out = []
    for a, b in windows(text, clean, context, limit):
        segs = segments(text, a, b, clean)
        if segs:
            out.append(Snippet(segs, lead=a > 0, trail=b < len(text)))
    return tuple(out)


def lead(text: str, width: int = 160) -> str:
    """The first `width` characters of a text, white space folded, cut on a word."""
    folded = " ".join(text.split())
    if len(folded) <= width:
        return folded
    cut = folded.rfind(" ", 0, width)
    return folded[: cut if cut > width // 2 else width] + "…"
