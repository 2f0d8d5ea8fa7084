"""Realistic watch rules built from the corpus itself, with a fixed seed.

A newsroom's rules name things that occur in the news: a company, a
commodity, a phrase from a story, a person in a headline.  Each rule here is
built from one story chosen at random: its words and phrases that are
neither stop words nor common (each in 2 to 60 of the 18,000 stories: a
watch rule that fires on more than a few stories a day is too broad to be
useful), put together in the mix of constructs a
desk uses:

| share | construct | example |
| --- | --- | --- |
| 22% | phrase | `"buffer stock"` |
| 12% | word | `cocoa` |
| 16% | two parts | `opec "production ceiling"` |
| 10% | OR group and a part | `(wheat OR maize) "export subsidies"` |
| 10% | NEAR | `quota* NEAR/5 opec` |
| 10% | with an exclusion | `"interest rates" -mortgage` |
| 12% | headline scope | `title:(cocoa OR coffee) brazil` |
| 8% | prefix | `sanction* iran` |

Rule sets of different sizes are prefixes of one list, so the 1,000 rules
include the 100.
"""

from __future__ import annotations

import random
from collections import Counter

from wirewatch.query.tokens import tokens
from wirewatch.query.weights import COMMON

MIN_DF, MAX_DF = 2, 60


class Corpus:
    """Tokens of every story, and how many stories hold each word and phrase."""

    def __init__(self, stories) -> None:
        self.titles = [tokens(s.title) for s in stories]
        self.bodies = [tokens(s.body) for s in stories]
        df: Counter[str] = Counter()
        for t, b in zip(self.titles, self.bodies):
            grams: set[str] = set()
            for toks in (t, b):
                grams.update(toks)
                grams.update(" ".join(toks[i : i + 2]) for i in range(len(toks) - 1))
                grams.update(" ".join(toks[i : i + 3]) for i in range(len(toks) - 2))
            df.update(grams)
        self.df = df


def _content(word: str) -> bool:
    return word not in COMMON and not word.isdigit() and len(word) >= 3


class RuleGenerator:
    def __init__(self, corpus: Corpus, seed: int = 21578) -> None:
        self.c = corpus
        self.rnd = random.Random(seed)
        self._cache: dict[int, tuple[list[str], list[str]]] = {}

    def _ok(self, gram: str) -> bool:
        return MIN_DF <= self.c.df.get(gram, 0) <= MAX_DF

    def _words(self, toks: list[str]) -> list[str]:
        return [w for w in dict.fromkeys(toks) if _content(w) and self._ok(w)]

    def _rare(self, word: str) -> bool:
        return _content(word) and self._ok(word)

    def _near(self, body: list[str], i: int, n: int) -> list[str]:
        """The rare words at most n tokens after body[i]."""
        return [w for w in body[i + 1 : i + 2 + n] if self._rare(w)]

    def _phrases(self, toks: list[str]) -> list[str]:
        out = []
        for k in (2, 2, 3):
            for i in range(0, max(0, len(toks) - k + 1)):
                gram = toks[i : i + k]
                if _content(gram[0]) and _content(gram[-1]) and self._ok(" ".join(gram)):
                    out.append('"' + " ".join(gram) + '"')
        return list(dict.fromkeys(out))

    def _story(self) -> tuple[list[str], list[str]]:
        while True:
            i = self.rnd.randrange(len(self.c.bodies))
            if len(self.c.bodies[i]) >= 20:
                return self.c.titles[i], self.c.bodies[i]

    def _parts(self, body: list[str]) -> tuple[list[str], list[str]]:
        key = id(body)
        parts = self._cache.get(key)
        if parts is None:
            parts = self._cache[key] = (self._words(body), self._phrases(body))
        return parts

    def rule(self) -> str:
        rnd = self.rnd
        # The construct is drawn once; a story that cannot give it makes way
        # for another story, not another construct (or constructs that need
        # rarer material, NEAR above all, would come out far below their share).
        kind = rnd.random()
        while True:
            title, body = self._story()
            words, phrases = self._parts(body)
            if len(words) < 4 or not phrases:
                continue
            part = lambda: rnd.choice(phrases) if rnd.random() < 0.5 else rnd.choice(words)  # noqa: E731
            if kind < 0.22:
                return rnd.choice(phrases)
            if kind < 0.34:
                return rnd.choice(words)
            if kind < 0.50:
                a, b = part(), part()
                return f"{a} {b}" if a != b else a
            if kind < 0.60:
                other = self._parts(self._story()[1])[0] or words
                return f"({rnd.choice(words)} OR {rnd.choice(other)}) {part()}"
            if kind < 0.70:
                n = rnd.randint(1, 8)
                starts = [i for i in range(len(body) - 1) if self._rare(body[i]) and self._near(body, i, n)]
                if not starts:
                    continue
                i = rnd.choice(starts)
                near = self._near(body, i, n)
                left = body[i] if rnd.random() < 0.7 or len(body[i]) < 6 else body[i][: rnd.randint(4, len(body[i]) - 1)] + "*"
                return f"{left} NEAR/{n} {rnd.choice(near)}"
            if kind < 0.80:
                other = self._parts(self._story()[1])[0]
                if not other:
                    continue
                return f"{part()} -{rnd.choice(other)}"
            if kind < 0.92:
                heads = self._words(title)
                if not heads:
                    continue
                if len(heads) >= 2 and rnd.random() < 0.5:
                    a, b = rnd.sample(heads, 2)
                    return f"title:({a} OR {b}) {part()}"
                return f"title:{rnd.choice(heads)} {part()}" if rnd.random() < 0.6 else f"title:{rnd.choice(heads)}"
            long = [w for w in words if len(w) >= 7]
            if not long:
                continue
            w = rnd.choice(long)
            return f"{w[: rnd.randint(5, len(w) - 1)]}* {part()}"

    def rules(self, n: int) -> list[tuple[str, str]]:
        return [(f"rule-{i:06d}", self.rule()) for i in range(n)]
