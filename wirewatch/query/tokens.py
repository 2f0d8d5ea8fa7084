"""Cutting text into tokens, exactly as the watch-query spec says.

1. The whole field is normalised to NFKC, then case-folded.
2. A token is a maximal run of characters that are `isalnum()` or of a
   Unicode mark category (M*); everything else separates tokens.

`tokens()` is the hot path of matching, so plain-ASCII text (nearly every
wire story) takes a translate-and-split shortcut that gives the same tokens
as the regular expression.  `token_spans()` also says where each token lies
in the original, unnormalised text, for highlighting.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _mark_ranges() -> str:
    """A regex character class body listing every mark (M*) that is not already alnum.

    Marks live in planes 0, 1 and 14 (variation selectors); the unit tests
    check the resulting pattern against every code point.
    """
    planes = (range(0x0, 0x20000), range(0xE0000, 0xE1000))
    ranges: list[list[int]] = []
    for plane in planes:
        for cp in plane:
            ch = chr(cp)
            if unicodedata.category(ch)[0] == "M" and not ch.isalnum():
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1][1] = cp
                else:
                    ranges.append([cp, cp])
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


# `\w` in Python's `re` is exactly `isalnum()` plus "_"; "_" is turned into a
# space before matching, so `[\w<marks>]+` is a token.
_TOKEN = re.compile(rf"[\w{_mark_ranges()}]+")
# Bytes in, bytes out: `bytes.translate` with a 256-byte table is about twice
# as fast as `str.translate` with a mapping.
_ASCII_TOKEN_BYTES = bytes(i if chr(i).isalnum() else 0x20 for i in range(128)).ljust(256, b" ")


def normalise(text: str) -> str:
    """NFKC, then case-fold: the text tokens are cut from."""
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """The tokens of one field, in order."""
    if text.isascii():
        # NFKC leaves ASCII as it is, and case-folding ASCII is lowering it.
        return text.encode("ascii").translate(_ASCII_TOKEN_BYTES).decode("ascii").lower().split()
    norm = unicodedata.normalize("NFKC", text).casefold()
    if norm.isascii():
        return norm.encode("ascii").translate(_ASCII_TOKEN_BYTES).decode("ascii").split()
    return _TOKEN.findall(norm.replace("_", " "))


def is_token_char(ch: str) -> bool:
    """The spec's definition, one character at a time (for checks and tests)."""
    return ch.isalnum() or unicodedata.category(ch)[0] == "M"


def has_letter_or_digit(toks: list[str] | tuple[str, ...]) -> bool:
    # A token is a run of word characters and marks without "_": an ASCII one
    # is all letters and digits, so only others need a look at each character.
    for tok in toks:
        if tok.isascii() or any(ch.isalnum() for ch in tok):
            return True
    return False


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Each token with its start and end offsets in the ORIGINAL `text`.

    Tokens are always those of `tokens(text)`.  Offsets are exact when the
    text normalises piece by piece (a character with the marks that follow
    it) the same as it does whole, which is every text but a few odd ones;
    otherwise they are the best guess available.
    """
    toks = tokens(text)
    # ASCII text (nearly every wire story) normalises to its own lower case,
    # character for character: its token runs are where its tokens are.
    if text.isascii():
        return [(t, m.start(), m.end()) for t, m in zip(toks, _TOKEN.finditer(text.replace("_", " ")))]
    norm = normalise(text)
    if norm == text:
        return [(t, m.start(), m.end()) for t, m in zip(toks, _TOKEN.finditer(text.replace("_", " ")))]
    pieces, starts, ends = _piecewise(text)
    if pieces == norm:
        return [(t, starts[m.start()], ends[m.end() - 1]) for t, m in zip(toks, _TOKEN.finditer(norm.replace("_", " ")))]
    return _guess(text, norm, toks)


def _piecewise(text: str) -> tuple[str, list[int], list[int]]:
    """Normalise `text` one cluster (a character and the marks after it) at a time.

    Returns the normalised text and, for each of its characters, where the
    cluster it came from starts and ends in `text`.
    """
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and (unicodedata.combining(text[j]) or unicodedata.category(text[j])[0] == "M"):
            j += 1
        piece = normalise(text[i:j])
        out.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return "".join(out), starts, ends


def _guess(text: str, norm: str, toks: list[str]) -> list[tuple[str, int, int]]:
    """Offsets for text whose normalisation does not split into clusters.

    Use the original text's own token runs when there are as many; else
    place each token proportionally.
    """
    raw = list(_TOKEN.finditer(text.replace("_", " ")))
    if len(raw) == len(toks):
        return [(t, m.start(), m.end()) for t, m in zip(toks, raw)]
    scale = len(text) / max(1, len(norm))
    out, pos = [], 0
    for t in toks:
        at = norm.find(t, pos)
        at = pos if at < 0 else at
        pos = at + len(t)
        start = min(len(text), int(at * scale))
        out.append((t, start, min(len(text), max(start + 1, round(pos * scale)))))
    return out


@lru_cache(maxsize=1 << 16)
def query_tokens(word: str) -> tuple[str, ...]:
    """Tokens of a word or phrase written in a query (cached: rules repeat words)."""
    return tuple(tokens(word))
