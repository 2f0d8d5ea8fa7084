"""Watch queries: the language of `shared/spec/watch-queries.md`, parsed and matched.

Pure: no Kafka, no Faust, no network.

    parse(query)              -> expression, or QueryError (with a 1-based column)
    Matcher()                 a set of rules: add / remove / match / hits
    story_hits(exprs, t, b)   where each rule's words are in a story
    tokens(text)              a field's tokens, as the spec cuts them
"""

from __future__ import annotations

from ..errors import QueryError
from .expr import And, Expr, Leaf, Near, Not, Or
from .matcher import Matcher, compile_rule, story_hits
from .parser import parse
from .tokens import normalise, token_spans, tokens

__all__ = [
    "And",
    "Expr",
    "Leaf",
    "Matcher",
    "Near",
    "Not",
    "Or",
    "QueryError",
    "compile_rule",
    "normalise",
    "parse",
    "story_hits",
    "token_spans",
    "tokens",
]
