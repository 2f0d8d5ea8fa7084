"""Watch queries as Elasticsearch Query DSL, without the risk of missing a story.

Pure: builds request bodies, imports no Elasticsearch client.

Elasticsearch's `standard` analyzer cuts text differently from the spec
(`U.S.` is one token `u.s`, `1,750` one token, `xi's` one token, `_` joins
words, no NFKC or case folding: `ＯＰＥＣ` stays `ｏｐｅｃ`, `Straße` stays
`straße`), and this cluster has no analysis plugins to fix that.  So the
index stage writes each field's tokens *as the spec cuts them* into
`words.title` and `words.body`, joined by single spaces, and those fields
are analyzed with the built-in `whitespace` analyzer: its terms and
positions are then exactly the spec's tokens and token indexes.  On them:

* a term is a `term` query, a phrase `match_phrase`, a prefix `prefix`;
* AND, OR and NOT are `bool` must / should / must_not;
* `A NEAR/n B` is an `intervals` query per field: for every pair of a
  left and a right leaf, `all_of` ordered with `max_gaps: n`, in both
  orders (ordered intervals never overlap, unordered ones may, which the
  spec does not allow);
* a field scope picks the field.

All of that is exact.  What is not, and only narrows the candidates (the
matcher then decides), is reported in `Translation.prefiltered`:

* a query token of `MAX_TOKEN` characters or more: the index keeps only the
  first `MAX_TOKEN` characters of longer tokens (the whitespace analyzer
  would cut them into pieces, which would shift positions), so the leaf
  becomes a prefix query on the kept part;
* `A NEAR/n B` where a side is such a word, or a prefix longer than
  `INDEX_PREFIX_MAX`: both sides in one field (an `intervals` prefix that
  expands to more than 128 terms fails the search);
* a NOT over such a part: a superset of A does not give a superset of
  NOT A, so that NOT is left out of the query (every story passes it);
* stories indexed without `words` (by an older WireWatch, or a document
  copied by `_reindex`, which drops the excluded `words`): no query on
  the standard fields is sure to find them, so every such story is a
  candidate (`candidates_query` adds them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .expr import FIELDS, And, Expr, Field, Leaf, Near, Not, Or, leaves
from .tokens import tokens

WORDS = "words"
# Bumped when the spec's tokens change (a new Unicode version, a rule
# change): documents with another value are searched like documents without words.
WORDS_VERSION = 1
WORDS_VERSION_FIELD = f"{WORDS}.v"
# The whitespace analyzer cuts terms at 255 UTF-16 units; 100 code points
# stay under that even when every one is outside the BMP.
MAX_TOKEN = 100
# Prefixes up to this long are one term of the fields' index_prefixes (19 is
# Elasticsearch's most).  A longer one expands to the terms it starts, and
# inside `intervals` more than 128 of them is an error, not a slower search.
INDEX_PREFIX_MAX = 19
TITLE_BOOST = 2.0

Query = dict[str, Any]


def words_field(field_: Field) -> str:
    return f"{WORDS}.{field_}"


def field_words(text: str) -> str:
    """A field's spec tokens as the `words` field holds them."""
    toks = tokens(text)
    # Cutting each token doubled this function's time on Reuters stories,
    # which have no long ones: only a field that has one pays for it.
    if max(map(len, toks), default=0) <= MAX_TOKEN:
        return " ".join(toks)
    return " ".join(t[:MAX_TOKEN] for t in toks)


def words_of(title: str, body: str) -> dict[str, Any]:
    """The `words` object of an index document."""
    return {"title": field_words(title or ""), "body": field_words(body or ""), "v": WORDS_VERSION}


def words_mapping() -> dict[str, Any]:
    """The mapping of `words` (an object under the index's strict mapping)."""
    text = {
        "type": "text",
        "analyzer": "whitespace",
        # Only matching happens here; relevance comes from these fields' norms-free
        # term frequencies, which is enough to rank and keeps the fields small.
        "norms": False,
        # A prefix (2 characters at least, as the spec says) becomes one term
        # lookup instead of an expansion over every term it starts.  On
        # Reuters text this costs about 15% more index than prefixes of up to
        # 5 characters, Elasticsearch's default.
        "index_prefixes": {"min_chars": 2, "max_chars": INDEX_PREFIX_MAX},
    }
    return {"properties": {"title": text, "body": dict(text), "v": {"type": "byte"}}}


@dataclass(frozen=True)
class Translation:
    """An expression as a query on `words`, and whether that query is the whole answer.

    `exact`: on documents that have `words`, the query matches exactly the
    stories the matcher matches.  Otherwise it matches a superset, and
    `prefiltered` says which parts are only narrowed.
    """

    query: Query
    exact: bool
    prefiltered: tuple[str, ...]


MATCH_ALL: Query = {"match_all": {}}


def translate(expr: Expr) -> Translation:
    """The query on `words` for a parsed watch query."""
    notes: list[str] = []
    q = _tr(expr, notes)
    return Translation(q if q is not None else dict(MATCH_ALL), not notes, tuple(dict.fromkeys(notes)))


def _tr(e: Expr, notes: list[str]) -> Query | None:
    """A query matching a superset of `e` (exactly `e` when nothing was added to `notes`).

    None stands for "every story": a part that cannot narrow anything.
    """
    if isinstance(e, Leaf):
        return _either([_leaf(e, f, notes) for f in FIELDS if e.field in (None, f)])
    if isinstance(e, Near):
        return _near(e, notes)
    if isinstance(e, Not):
        inner: list[str] = []
        q = _tr(e.child, inner)
        if inner or q is None:
            notes.extend(inner)
            notes.append(f"NOT {e.child} is checked by the matcher only (a part of it is only prefiltered)")
            return None
        return {"bool": {"must_not": [q]}}
    if isinstance(e, And):
        parts = [q for q in (_tr(c, notes) for c in e.children) if q is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"bool": {"must": parts}}
    parts_or = [_tr(c, notes) for c in e.children]
    if any(q is None for q in parts_or):
        return None
    return {"bool": {"should": parts_or, "minimum_should_match": 1}}


def _either(per_field: list[Query]) -> Query:
    if len(per_field) == 1:
        return per_field[0]
    return {"bool": {"should": per_field, "minimum_should_match": 1}}


def _boost(field_: Field) -> dict[str, float]:
    return {"boost": TITLE_BOOST} if field_ == "title" else {}


def _long(token: str) -> bool:
    return len(token) >= MAX_TOKEN


def _long_note(leaf: Leaf) -> str:
    return f"{leaf}: a word of {MAX_TOKEN} or more characters is compared on its first {MAX_TOKEN}"


def _leaf(leaf: Leaf, field_: Field, notes: list[str]) -> Query:
    name = words_field(field_)
    toks = leaf.tokens
    if leaf.prefix:
        stem = toks[0]
        if len(stem) > MAX_TOKEN:
            notes.append(_long_note(leaf))
            stem = stem[:MAX_TOKEN]
        return {"prefix": {name: {"value": stem, **_boost(field_)}}}
    if any(_long(t) for t in toks):
        notes.append(_long_note(leaf))
        # Each token in the field, in any place: a superset of the phrase.
        per_token = [_token(name, t, field_) for t in toks]
        return per_token[0] if len(per_token) == 1 else {"bool": {"must": per_token}}
    if len(toks) == 1:
        return {"term": {name: {"value": toks[0], **_boost(field_)}}}
    return {"match_phrase": {name: {"query": " ".join(toks), **_boost(field_)}}}


def _token(name: str, token: str, field_: Field) -> Query:
    if _long(token):
        return {"prefix": {name: {"value": token[:MAX_TOKEN], **_boost(field_)}}}
    return {"term": {name: {"value": token, **_boost(field_)}}}


def _near(e: Near, notes: list[str]) -> Query | None:
    per_field: list[Query] = []
    for f in FIELDS:
        left = [leaf for leaf in e.left if leaf.field in (None, f)]
        right = [leaf for leaf in e.right if leaf.field in (None, f)]
        if not left or not right:
            continue
        if any(_expands(leaf) for leaf in left + right):
            notes.append(
                f"{e}: NEAR with a prefix of more than {INDEX_PREFIX_MAX} characters or a word of "
                f"{MAX_TOKEN} or more: both sides in one field, the distance checked by the matcher"
            )
            sides = [_either([_leaf(leaf, f, notes) for leaf in side]) for side in (left, right)]
            per_field.append({"bool": {"must": sides}})
            continue
        # One ordered pair per combination rather than any_of on each side:
        # a disjunction of intervals of different widths is minimised by
        # Lucene, and spelling the pairs out leaves nothing to that.
        pairs = []
        for a in left:
            for b in right:
                sa, sb = _source(a), _source(b)
                for first, second in ((sa, sb), (sb, sa)):
                    pairs.append({"all_of": {"ordered": True, "max_gaps": e.distance, "intervals": [first, second]}})
        rule = pairs[0] if len(pairs) == 1 else {"any_of": {"intervals": pairs}}
        per_field.append({"intervals": {words_field(f): {**rule, **_boost(f)}}})
    if not per_field:
        # A side limited to title and the other to body: never true, as the
        # matcher says too (no NEAR spans two fields).
        return {"match_none": {}}
    return per_field[0] if len(per_field) == 1 else {"bool": {"should": per_field, "minimum_should_match": 1}}


def _expands(leaf: Leaf) -> bool:
    if leaf.prefix:
        return len(leaf.tokens[0]) > INDEX_PREFIX_MAX
    return any(_long(t) for t in leaf.tokens)


def _source(leaf: Leaf) -> Query:
    """An intervals rule for one occurrence of a leaf (one that does not `_expands`)."""
    if leaf.prefix:
        return {"prefix": {"prefix": leaf.tokens[0]}}
    return {"match": {"query": " ".join(leaf.tokens), "ordered": True, "max_gaps": 0}}


# -- the whole request ------------------------------------------------------------------

HAS_WORDS: Query = {"term": {WORDS_VERSION_FIELD: WORDS_VERSION}}


def hint_query(expr: Expr) -> Query:
    """Relevance on the standard `title` and `body` fields, for stories without `words`.

    Only ranks: it is never required to match.
    """
    text = " ".join(" ".join(leaf.tokens) for leaf in leaves(expr))
    return {"multi_match": {"query": text, "fields": ["title^2", "body"]}}


def candidates_query(translation: Translation, expr: Expr, without_words: bool = True) -> Query:
    """The query for candidates in the whole index.

    Stories with `words` must match the translation; stories without them
    (`without_words`: the index may hold some) are all candidates, ranked
    by `hint_query`.
    """
    with_words = {"bool": {"filter": [HAS_WORDS], "must": [translation.query]}}
    if not without_words:
        return with_words
    legacy = {"bool": {"must": [MATCH_ALL], "must_not": [HAS_WORDS], "should": [hint_query(expr)]}}
    return {"bool": {"should": [with_words, legacy], "minimum_should_match": 1}}


def combine(queries: list[Expr], rules: list[Expr]) -> Expr:
    """One expression for `search`: every query, and any of the rules."""
    parts = list(queries)
    if rules:
        parts.append(rules[0] if len(rules) == 1 else Or(tuple(rules)))
    if not parts:
        raise ValueError("nothing to search for")
    return parts[0] if len(parts) == 1 else And(tuple(parts))
