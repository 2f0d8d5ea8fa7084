"""The parsed form of a watch query.

Field scopes are pushed down into the leaves when parsing (`title:(a OR b)`
becomes `title:a OR title:b`), so a leaf says which field it may match in
and no other node has a field.  `str()` writes an expression back as query
text that parses to the same expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Literal, Union

Field = Literal["title", "body"]
FIELDS: tuple[Field, ...] = ("title", "body")


@dataclass(frozen=True)
class Leaf:
    """A term (one token), a phrase (several) or a prefix, in one field or either."""

    tokens: tuple[str, ...]
    prefix: bool = False
    field: Field | None = None
    column: int = _field(default=0, compare=False)

    @property
    def kind(self) -> str:
        if self.prefix:
            return "prefix"
        return "term" if len(self.tokens) == 1 else "phrase"

    @property
    def width(self) -> int:
        """How many tokens one occurrence covers."""
        return len(self.tokens)

    @property
    def key(self) -> str:
        """What the matcher looks the leaf up by, ignoring its field.

        A term is its token; a phrase its tokens between single spaces with a
        space either side; a prefix a space and the prefix.  Tokens never hold
        spaces, so the three kinds cannot collide.
        """
        if len(self.tokens) == 1 and not self.prefix:
            return self.tokens[0]
        return self.pattern

    @property
    def pattern(self) -> str:
        """What an occurrence looks like in a field's tokens joined as " t1 t2 … "."""
        if self.prefix:
            return " " + self.tokens[0]
        return " " + " ".join(self.tokens) + " "

    def scoped(self, field_: Field | None) -> "Leaf":
        if field_ == self.field:
            return self
        return Leaf(self.tokens, self.prefix, field_, self.column)

    def __str__(self) -> str:
        if self.prefix:
            text = self.tokens[0] + "*"
        elif len(self.tokens) == 1 and self.tokens[0].isalnum() and self.tokens[0].isascii():
            # Plain ASCII words can be written bare unless they read as operators.
            text = self.tokens[0]
        else:
            text = '"' + " ".join(self.tokens) + '"'
        return f"{self.field}:{text}" if self.field else text


@dataclass(frozen=True)
class And:
    children: tuple["Expr", ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c, (Or, And)) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple["Expr", ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(c, (Or,)) for c in self.children)


@dataclass(frozen=True)
class Not:
    child: "Expr"
    column: int = _field(default=0, compare=False)

    def __str__(self) -> str:
        return "NOT " + _wrap(self.child, (Or, And))


@dataclass(frozen=True)
class Near:
    """An occurrence of a `left` leaf and one of a `right` leaf in the same field,
    in either order, not overlapping, with at most `distance` tokens between."""

    left: tuple[Leaf, ...]
    right: tuple[Leaf, ...]
    distance: int

    def __str__(self) -> str:
        return f"{_side(self.left)} NEAR/{self.distance} {_side(self.right)}"


Expr = Union[Leaf, And, Or, Not, Near]


def _wrap(e: Expr, group: tuple[type, ...]) -> str:
    return f"({e})" if isinstance(e, group) else str(e)


def _side(leaves: tuple[Leaf, ...]) -> str:
    return str(leaves[0]) if len(leaves) == 1 else "(" + " OR ".join(map(str, leaves)) + ")"


def leaves(e: Expr) -> list[Leaf]:
    """Every leaf, in query order (NEAR sides included)."""
    if isinstance(e, Leaf):
        return [e]
    if isinstance(e, Near):
        return [*e.left, *e.right]
    if isinstance(e, Not):
        return leaves(e.child)
    return [leaf for c in e.children for leaf in leaves(c)]


def true_when_no_words(e: Expr) -> bool:
    """The spec's test: the value with every term, phrase and prefix false."""
    if isinstance(e, (Leaf, Near)):
        return False
    if isinstance(e, Not):
        return not true_when_no_words(e.child)
    if isinstance(e, And):
        return all(true_when_no_words(c) for c in e.children)
    return any(true_when_no_words(c) for c in e.children)


def negation_normal_form(e: Expr, negate: bool = False) -> Expr:
    """Push NOT down to leaves and NEARs (De Morgan), dropping double negations."""
    if isinstance(e, Not):
        return negation_normal_form(e.child, not negate)
    if isinstance(e, (Leaf, Near)):
        return Not(e) if negate else e
    kind = And if isinstance(e, And) != negate else Or
    kids: list[Expr] = []
    for c in e.children:
        c = negation_normal_form(c, negate)
        # NOT (a OR b) inside an AND is one more run of ANDed parts, not a nested AND.
        kids.extend(c.children if isinstance(c, kind) else (c,))  # type: ignore[union-attr]
    return kind(tuple(kids))
