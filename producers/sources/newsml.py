"""IPTC NewsML-G2 XML: a `newsItem`, or the news items of a `newsMessage`.

The item's `guid` is the story id and its `version` attribute the story
version.  Elements are matched by local name, so documents that declare the
NewsML-G2 namespace and documents that declare none (TT's) read alike.  Only
text items become stories: the pictures, videos and packages that travel in
the same message carry no words to match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ErrorString

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException
from pydantic import ValidationError

from wirewatch.errors import InputError
from wirewatch.model import Story

from .errors import each
from .markup import element_text, html_text, local_name

SOURCE = "newsml-g2"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PUBSTATUS = ("usable", "withheld", "canceled")
# cpnat concept types that are places rather than topics.
GEO_TYPES = ("cpnat:geoArea", "cpnat:poi")
_EMPTY = Element("none")


def parse(data: bytes | str, name: str = "<newsml>", on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    """The stories of one NewsML-G2 document, in document order.

    A document that is not well-formed raises InputError (nothing in it can
    be trusted); an item that cannot be read goes to `on_error` and the
    others are still read.
    """
    root = _parse_xml(data, name)
    kind = root.tag
    if kind == "newsItem":
        items = [root]
    elif kind == "newsMessage":
        items = root.findall("./itemSet/newsItem")
    else:
        raise InputError(f"not a NewsML-G2 newsItem or newsMessage: the document is a <{kind}>", name)
    numbered = ((item, f"{name}[{i}]") for i, item in enumerate(items) if _is_text(item))
    yield from each(numbered, lambda item: from_news_item(*item), on_error)


def read(path, on_error: Callable[[InputError], None] | None = None) -> Iterator[Story]:
    with open(path, "rb") as fh:
        data = fh.read()
    yield from parse(data, str(path), on_error)


def _parse_xml(data: bytes | str, name: str) -> Element:
    # Entity declarations are refused outright (defusedxml): a few hundred
    # bytes of nested entities ("billion laughs") expand to gigabytes.  expat
    # 2.4.1 and later cap that amplification, but which expat pyexpat is
    # linked against is up to the Python build, and no wire document needs
    # entities of its own.  External entities and DTDs are never fetched.
    try:
        root = safe_xml.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        line, column = exc.position
        raise InputError(f"not well-formed XML: {ErrorString(exc.code)}", f"{name}:{line}:{column + 1}") from exc
    except DefusedXmlException as exc:
        raise InputError(f"XML entity declarations are refused ({exc})", name) from exc
    for el in root.iter():
        el.tag = local_name(el.tag)
    return root


def _is_text(item: Element) -> bool:
    item_class = _code(_child(item, "itemMeta").find("itemClass"))
    return item_class in (None, "text")


def from_news_item(item: Element, where: str) -> Story:
    guid = (item.get("guid") or "").strip()
    if not guid:
        raise InputError("newsItem has no guid", where)
    where = f"{where} ({guid})"
    meta = _child(item, "itemMeta")
    content = _child(item, "contentMeta")
    signals = tuple(filter(None, map(_signal, meta.findall("signal"))))
    pubstatus = _pubstatus(meta.find("pubStatus"), where)
    if "kill" in signals:
        pubstatus = "canceled"
    language = _attr(content.find("language"), "tag") or (item.get(XML_LANG) or "").strip() or None
    subjects, places = _concepts(content, language)
    try:
        return Story(
            id=guid,
            version=_version(item.get("version"), where),
            source=_source(item, meta),
            title=_headline(content),
            body=_body(_child(item, "contentSet")),
            published=_time(meta, ("versionCreated", "firstCreated"), where) or _time(content, ("contentCreated",), where),
            language=language,
            urgency=_text(content.find("urgency")) or None,
            pubstatus=pubstatus,
            embargo=_time(meta, ("embargoed",), where),
            signals=signals,
            subjects=subjects,
            places=places,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(f"bad NewsML-G2 value for {loc}: {err['msg']}", where) from exc


def _child(el: Element, tag: str) -> Element:
    found = el.find(tag)
    return _EMPTY if found is None else found


def _text(el: Element | None) -> str:
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def _attr(el: Element | None, name: str) -> str | None:
    value = el.get(name, "").strip() if el is not None else ""
    return value or None


def _code(el: Element | None) -> str | None:
    """The code of a qcode (`stat:usable` -> `usable`) or of a NewsCodes URI (`.../pubstatusg2/usable`)."""
    if el is None:
        return None
    qcode = _attr(el, "qcode")
    if qcode:
        return qcode.partition(":")[2] or qcode
    uri = _attr(el, "uri")
    return uri.rstrip("/").rpartition("/")[2] if uri else None


def _signal(el: Element) -> str | None:
    qcode = _attr(el, "qcode")
    # IPTC's own signals lose their scheme ("update", "kill"); a provider's
    # own keep it, so that they cannot be taken for IPTC's.
    if qcode and qcode.startswith("sig:"):
        return qcode[4:]
    if qcode:
        return qcode
    uri = _attr(el, "uri")
    if uri and "/newscodes/signal/" in uri:
        return uri.rstrip("/").rpartition("/")[2]
    return uri


def _pubstatus(el: Element | None, where: str) -> str:
    if el is None:
        return "usable"
    code = _code(el)
    if code not in PUBSTATUS:
        raise InputError(f"unknown pubStatus {_attr(el, 'qcode') or _attr(el, 'uri')!r}; expected stat:usable, stat:withheld or stat:canceled", where)
    return code


def _version(value: str | None, where: str) -> int:
    # Stricter than ninjs: the version is the index's external version, so a
    # garbled one read as 1 would have a real update refused as stale.
    if value is None or not value.strip():
        return 1
    try:
        version = int(value)
    except ValueError:
        version = 0
    if version < 1:
        raise InputError(f"version must be a whole number from 1, not {value!r}", where)
    return version


def _time(parent: Element, tags: tuple[str, ...], where: str) -> datetime | None:
    for tag in tags:
        text = _text(parent.find(tag))
        if not text:
            continue
        try:
            return datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError(f"<{tag}> is not an ISO 8601 time: {text!r}", where) from exc
    return None


def _source(item: Element, meta: Element) -> str:
    provider = _child(meta, "provider")
    qcode = _attr(provider, "qcode") or ""
    return (
        _text(item.find("./rightsInfo/copyrightHolder/name"))
        or _text(provider.find("name"))
        or qcode.partition(":")[2]
        or SOURCE
    )


def _headline(content: Element) -> str:
    headlines = content.findall("headline")
    main = [h for h in headlines if (h.get("role") or "main").endswith("main")]
    return _text((main or headlines or [None])[0])


def _concepts(content: Element, language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    subjects: list[str] = []
    places = [n for n in (_concept_name(el, language) for el in content.findall("located")) if n]
    for el in content.findall("subject"):
        name = _concept_name(el, language)
        if name:
            (places if el.get("type") in GEO_TYPES else subjects).append(name)
    return tuple(dict.fromkeys(subjects)), tuple(dict.fromkeys(places))


def _concept_name(el: Element, language: str | None) -> str | None:
    names = [(n.get(XML_LANG), _text(n)) for n in el.findall("name")]
    names = [(lang, text) for lang, text in names if text]
    if names:
        # A concept may be named in several languages: the story's own first.
        base = (language or "").split("-")[0].lower()
        for lang, text in names:
            if lang is None or (base and lang.split("-")[0].lower() == base):
                return text
        return names[0][1]
    return _attr(el, "qcode") or _attr(el, "uri")


def _body(content_set: Element) -> str:
    for el in content_set:
        kind = (el.get("contenttype") or "").lower()
        if el.tag == "inlineXML":
            text = _inline_xml(el)
        elif el.tag == "inlineData":
            data = el.text or ""
            text = html_text(data) if "html" in kind else data.strip()
        else:
            continue  # remoteContent: a rendition elsewhere, not fetched here
        if text:
            return text
    return ""


def _inline_xml(el: Element) -> str:
    # NITF: the story proper is <body.content> (<body.head> repeats the
    # headline and byline).  XHTML: <body>.  Anything else: all its text.
    for tag in ("body.content", "body"):
        found = el.find(f".//{tag}")
        if found is not None:
            return element_text(found)
    return element_text(el)
