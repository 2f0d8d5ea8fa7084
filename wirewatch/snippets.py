"""Pure: passages of a text around matched spans, with the matched words marked.

Used wherever a person reads a match: the terminal (`tail`, `search`) and
alerts.  Spans are character offsets into the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Passage:
    """Pieces of text in order; `marked[i]` says whether `pieces[i]` matched."""

    pieces: tuple[str, ...]
    marked: tuple[bool, ...]
    cut_before: bool
    cut_after: bool

    def plain(self, left: str = "", right: str = "") -> str:
        text = "".join(f"{left}{p}{right}" if m else p for p, m in zip(self.pieces, self.marked))
        return ("…" if self.cut_before else "") + text + ("…" if self.cut_after else "")


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def passages(text: str, spans: list[tuple[int, int]], context: int = 60, most: int = 3) -> list[Passage]:
    """Up to `most` passages, each `context` characters either side of its spans.

    Spans close enough to share context share a passage.  Cuts fall on
    white space where possible, so no word is shown half.
    """
    spans = [(max(0, s), min(len(text), e)) for s, e in spans if e > s and s < len(text)]
    if not spans:
        return []
    groups: list[list[tuple[int, int]]] = []
    for span in _merge(spans):
        if groups and span[0] - groups[-1][-1][1] <= 2 * context:
            groups[-1].append(span)
        else:
            groups.append([span])
    out = []
    for group in groups[:most]:
        start = _cut_left(text, group[0][0] - context)
        end = _cut_right(text, group[-1][1] + context)
        pieces, marked, pos = [], [], start
        for s, e in group:
            if s > pos:
                pieces.append(text[pos:s])
                marked.append(False)
            pieces.append(text[s:e])
            marked.append(True)
            pos = e
        if end > pos:
            pieces.append(text[pos:end])
            marked.append(False)
        pieces = [_SPACE.sub(" ", p) for p in pieces]
        out.append(Passage(tuple(pieces), tuple(marked), start > 0, end < len(text)))
    return out


def _cut_left(text: str, pos: int) -> int:
    if pos <= 0:
        return 0
    space = text.find(" ", pos)
    return space + 1 if 0 <= space < pos + 20 else pos


def _cut_right(text: str, pos: int) -> int:
    if pos >= len(text):
        return len(text)
    space = text.rfind(" ", pos - 20, pos)
    return space if space > 0 else pos


def lead(text: str, width: int = 160) -> str:
    """The first `width` characters of a text, white space folded, cut on a word."""
    folded = " ".join(text.split())
    if len(folded) <= width:
        return folded
    cut = folded.rfind(" ", 0, width)
    return folded[: cut if cut > width // 2 else width] + "…"
