"""Readable text out of story markup (XHTML, NITF, HTML): paragraphs separated by blank lines, no tags.

`element_text` walks an already parsed XML element (a NewsML-G2 `inlineXML`
body); `html_text` reads HTML source (a feed item's description).  Both cut
text into the same paragraphs, so a story reads alike from either format.
"""

from __future__ import annotations

from html.parser import HTMLParser
from xml.etree.ElementTree import Element

# Elements that start and end a paragraph: XHTML's and NITF's (`hl1`, `hl2`, `block`, `bq`).
BLOCKS = frozenset(
    "p div section article main aside footer address blockquote bq pre li dt dd tr caption table ul ol dl"
    " h1 h2 h3 h4 h5 h6 hl1 hl2 block body html".split()
)
# Not the story's words: a page head and script; a header that repeats the
# headline and metadata (dpa's XHTML); pictures with their captions and
# credits (`figure`, NITF `media`); NITF's head and end matter when the
# whole NITF body is all there is.
SKIP = frozenset("head title script style header figure media body.head body.end".split())


class _Paragraphs:
    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self._lines: list[list[str]] = [[]]

    def text(self, text: str) -> None:
        self._lines[-1].append(text)

    def line_break(self) -> None:
        self._lines.append([])

    def end_paragraph(self) -> None:
        # Markup wraps and indents its source freely: a run of white space,
        # newlines included, is one space; only <br> breaks a line.
        lines = (" ".join("".join(parts).split()) for parts in self._lines)
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            self.paragraphs.append(paragraph)
        self._lines = [[]]

    def result(self) -> str:
        self.end_paragraph()
        return "\n\n".join(self.paragraphs)


def local_name(tag: object) -> str:
    """`p` for `{http://www.w3.org/1999/xhtml}p` and for `p`; "" for a comment or processing instruction."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def element_text(root: Element) -> str:
    out = _Paragraphs()
    # A loop with its own stack, not recursion: a hostile document can nest
    # elements deeper than Python's recursion limit.
    stack: list[tuple[Element, bool]] = [(root, True)]
    while stack:
        el, opening = stack.pop()
        tag = local_name(el.tag)
        if opening and (tag in SKIP or not tag):
            if el is not root and el.tail:
                out.text(el.tail)
            continue
        if tag in BLOCKS:
            out.end_paragraph()
        if opening:
            if tag == "br":
                out.line_break()
            if el.text:
                out.text(el.text)
            stack.append((el, False))
            stack.extend((child, True) for child in reversed(el))
        elif el is not root and el.tail:
            out.text(el.tail)
    return out.result()


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Paragraphs()
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self._skipping += 1
        elif self._skipping:
            return
        elif tag in BLOCKS:
            self.out.end_paragraph()
        elif tag == "br":
            self.out.line_break()

    def handle_startendtag(self, tag, attrs):
        # <br/>, <img/>: nothing to skip until an end tag that never comes.
        if not self._skipping and tag == "br":
            self.out.line_break()

    def handle_endtag(self, tag):
        if tag in SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif not self._skipping and tag in BLOCKS:
            self.out.end_paragraph()

    def handle_data(self, data):
        if not self._skipping:
            self.out.text(data)


def html_text(markup: str) -> str:
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    return parser.out.result()
