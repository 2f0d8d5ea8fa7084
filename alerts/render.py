"""Turn an alert into the words people read: email (text + HTML) and Slack.

Pure: no sending.  Story text is untrusted everywhere.  In HTML email every
piece of it is escaped by Jinja2's autoescape; in Slack it is escaped with
`slack_escape` (so `<!channel>` or `<http://x|y>` in a story is shown, never
acted on, and `*bold*` stays literal); in headers control characters are
dropped.  Templates are Jinja2 files in `alerts/templates/`; a file of the
same name in `settings.templates_dir` overrides the built-in one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from wirewatch.model import Alert, Hit, Match, Story
from wirewatch.snippets import CONTEXT, LIMIT, Segment, Snippet, clean_spans, passages, segments, windows

HEADLINE_CHARS = 200
COMPACT_BODY = 8000  # bodies longer than this travel as excerpts only
SLACK_ITEMS = 20  # stories listed in one Slack message
SLACK_TEXT = 2900  # Slack allows 3000 characters in a section

@dataclass(frozen=True)
class ItemView:
    """One story in an alert, ready for a template."""

    story_id: str
    version: int
    headline: tuple[Segment, ...]
    source: str
    time: str
    urgency: int | None
    link: str | None
    snippets: tuple[Snippet, ...]

    @property
    def title(self) -> str:
        return "".join(t for t, _ in self.headline)


@dataclass(frozen=True)
class AlertView:
    kind: str
    rule_id: str
    rule_name: str
    items: tuple[ItemView, ...]
    total: int  # stories the alert stands for, listed or not
    unlisted: int

    @property
    def first(self) -> ItemView | None:
        return self.items[0] if self.items else None


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


# ---------------------------------------------------------------- passages


def _spans(text: str, hits: tuple[Hit, ...], field_name: str) -> list[tuple[int, int]]:
    """Clean spans of one field; hits that do not fit the text are ignored."""
    return clean_spans(text, [(h.start, h.end) for h in hits if h.field == field_name])


def snippets(story: Story, hits: tuple[Hit, ...]) -> tuple[Snippet, ...]:
    """Passages of the body around the matched words; the opening of the body if none matched there."""
    body = story.body
    spans = _spans(body, hits, "body")
    if not spans:
        if not body.strip():
            return ()
        a, b = windows(body, [(0, 0)], context=2 * CONTEXT)[0]
        segs = segments(body, a, b, [])
        return (Snippet(segs, lead=False, trail=b < len(body)),) if segs else ()
    return passages(body, spans)


def headline(story: Story, hits: tuple[Hit, ...]) -> tuple[Segment, ...]:
    title = story.title
    if title.strip():
        end = len(title)
        if end > HEADLINE_CHARS:
            space = title.rfind(" ", 0, HEADLINE_CHARS)
            end = space if space > HEADLINE_CHARS // 2 else HEADLINE_CHARS
        segs = segments(title, 0, end, _spans(title, hits, "title"))
        if end < len(title):
            segs = segs + (("…", False),)
        if segs:
            return segs
    body = " ".join(story.body.split()[:12])
    return ((body[:HEADLINE_CHARS] + " …", False),) if body else (("(untitled story)", False),)


def compact(match: Match) -> Match:
    """The match with a huge body cut down to the passages an alert shows.

    Keeps alerts (and digests of many of them) far below Kafka's message
    size; hits are moved to their place in the shortened body.
    """
    story = match.story
    body = story.body
    if len(body) <= COMPACT_BODY:
        return match
    spans = _spans(body, match.hits, "body")
    cuts = windows(body, spans, context=2 * CONTEXT) if spans else [(0, 2 * CONTEXT * LIMIT)]
    parts: list[str] = []
    new_hits = [h for h in match.hits if h.field != "body"]
    offset = 0
    for a, b in cuts:
        if parts:
            parts.append(" … ")
            offset += 3
        for start, end in spans:
            if a <= start and end <= b:
                new_hits.append(Hit(field="body", start=offset + start - a, end=offset + end - a))
        parts.append(body[a:b])
        offset += b - a
    if cuts and cuts[-1][1] < len(body):
        parts.append(" …")
    story = story.model_copy(update={"body": "".join(parts)})
    return match.model_copy(update={"story": story, "hits": tuple(new_hits)})


def without_body(match: Match) -> Match:
    """The match as a headline only: what a flood summary lists."""
    story = match.story.model_copy(update={"body": ""})
    hits = tuple(h for h in match.hits if h.field == "title")
    return match.model_copy(update={"story": story, "hits": hits})


# ---------------------------------------------------------------- links


def safe_url(url: str | None) -> str | None:
    """A URL from a feed, if it is an http(s) URL with nothing that could break out of a link."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or c in '<>"|\\' or ord(c) < 32 for c in url):
        return None
    return url


# A link template (`{story_id}`, `{version}` replaced), or a function of the story.
SearchLink = str | Callable[[Story], str] | None


def story_link(story: Story, search_template: SearchLink) -> str | None:
    """Link to the story in search (Kibana) when configured, else the story's own URL."""
    if callable(search_template):
        return search_template(story)
    if search_template:
        return search_template.replace("{story_id}", quote(story.id, safe="")).replace(
            "{version}", str(story.version)
        )
    return safe_url(story.url)


def search_link(settings, rule_id: str) -> SearchLink:
    """How an alert of this rule links to its stories.

    WIREWATCH_KIBANA_URL_TEMPLATE when set; else, with WIREWATCH_KIBANA_URL,
    the story in the rule's saved search in Discover (what `wirewatch kibana
    import` creates, see `wirewatch.kibana.objects.discover_story_url`); else
    none (the story's own URL, when it has one).
    """
    if settings.kibana_url_template:
        return settings.kibana_url_template
    if settings.kibana_url:
        from wirewatch.kibana.objects import discover_story_url

        kibana_url, index = settings.kibana_url, settings.index
        return lambda story: discover_story_url(kibana_url, index, rule_id, story.id, story.published or story.received)
    return None


# ---------------------------------------------------------------- views


def _when(story: Story) -> str:
    moment: datetime = story.published or story.received
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def item_view(match: Match, search_template: SearchLink) -> ItemView:
    story = match.story
    return ItemView(
        story_id=story.id,
        version=story.version,
        headline=headline(story, match.hits),
        source=story.source,
        time=_when(story),
        urgency=story.urgency,
        link=story_link(story, search_template),
        snippets=snippets(story, match.hits),
    )


def alert_view(alert: Alert, search_template: SearchLink = None) -> AlertView:
    items = tuple(item_view(m, search_template) for m in alert.matches)
    return AlertView(
        kind=alert.kind,
        rule_id=alert.rule_id,
        rule_name=alert.rule_name or alert.rule_id,
        items=items,
        total=len(items) + alert.suppressed,
        unlisted=alert.suppressed,
    )


# ---------------------------------------------------------------- email


def header_text(text: str, limit: int = 180) -> str:
    """Text safe for a mail header: one line, no control characters, not too long."""
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class Templates:
    """The Jinja2 templates, built-in or overridden from a folder."""

    override_dir: Path | None = None

    @cached_property
    def env(self):
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

        loaders = []
        if self.override_dir is not None:
            loaders.append(FileSystemLoader(str(self.override_dir)))
        loaders.append(PackageLoader("alerts", "templates"))
        return Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates are read once per process: checking each file's
            # modification time at every alert was a tenth of sending one.
            auto_reload=False,
        )

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)


def email(alert: Alert, templates: Templates, search_template: SearchLink = None) -> EmailContent:
    view = alert_view(alert, search_template)
    context = {"alert": view, "items": view.items}
    # A "withdrawn" notice has templates of its own: it retracts, it does not alert.
    prefix = "withdrawn." if alert.kind == "withdrawn" else ""
    subject = header_text(templates.render(f"{prefix}subject.txt.j2", **context))
    return EmailContent(
        subject=subject,
        text=templates.render(f"{prefix or 'email.'}txt.j2", **context),
        html=templates.render(f"{prefix or 'email.'}html.j2", **context),
    )


# ---------------------------------------------------------------- Slack

# Slack's mrkdwn has no escape for its formatting characters, so a story's
# are swapped for look-alikes that Slack does not format.
_MRKDWN_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


def slack_escape(text: str) -> str:
    """Untrusted text for a Slack mrkdwn field: shown as written, never a mention, link or format."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.translate(_MRKDWN_LOOKALIKES)
    # A line that starts with ">" is a quote even when escaped.
    return re.sub(r"(?m)^&gt;", "\u00ad&gt;", text)


def _slack_segments(segments: tuple[Segment, ...]) -> str:
    out = []
    for text, hit in segments:
        escaped = slack_escape(text)
        out.append(f"*{escaped}*" if hit and escaped.strip() else escaped)
    return "".join(out)


def _slack_link(url: str | None, label: str) -> str:
    if not url:
        return label
    url = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{url}|{label}>"


def _slack_cut(text: str, limit: int = SLACK_TEXT) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", max(0, len(cut) - 6))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # never leave half an entity
    return cut + "…"


def _slack_item(item: ItemView) -> dict:
    # The headline is bold as a whole, so its matched words are not marked again.
    title = slack_escape(item.title)
    lines = [f"*{_slack_link(item.link, title)}*"]
    meta = f"{slack_escape(item.source)} · {item.time}"
    if item.urgency is not None:
        meta += f" · urgency {item.urgency}"
    lines.append(meta)
    for snip in item.snippets:
        text = ("… " if snip.lead else "") + _slack_segments(snip.segments) + (" …" if snip.trail else "")
        lines.append("> " + text)
    return {"type": "section", "text": {"type": "mrkdwn", "text": _slack_cut("\n".join(lines))}}


def slack_title(view: AlertView) -> str:
    rule = slack_escape(view.rule_name)
    if view.kind == "instant":
        return f":rotating_light: *WireWatch · {rule}*"
    if view.kind == "withdrawn":
        return f":no_entry: *WireWatch · {rule}* · story WITHDRAWN by its agency: do not use"
    if view.kind == "digest":
        return f":newspaper: *WireWatch · {rule}* · digest of {view.total} {'story' if view.total == 1 else 'stories'}"
    return f":warning: *WireWatch · {rule}* · {view.total} more matches held back by flood control"


SLACK_EVENT_TYPE = "wirewatch_alert"


def slack(alert: Alert, search_template: SearchLink = None) -> dict:
    """The Block Kit payload (`text` + `blocks`) for a webhook or chat.postMessage."""
    view = alert_view(alert, search_template)
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": slack_title(view)}}]
    shown = view.items[:SLACK_ITEMS]
    for item in shown:
        blocks.append(_slack_item(item))
    unlisted = view.total - len(shown)
    if unlisted:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"… and {unlisted} more not listed here"}]})
    first = view.first
    fallback = f"WireWatch {slack_escape(view.rule_name)}: "
    if view.kind == "instant" and first is not None:
        fallback += slack_escape(first.title)
    elif view.kind == "withdrawn" and first is not None:
        fallback += "WITHDRAWN: " + slack_escape(first.title)
    else:
        fallback += f"{view.total} {'story' if view.total == 1 else 'stories'}"
    # Message metadata: which WireWatch alert this is, for apps reading the
    # channel (and for telling a crash-window repeat from a second alert).
    metadata = {"event_type": SLACK_EVENT_TYPE,
                "event_payload": {"alert_id": alert.alert_id, "rule_id": alert.rule_id, "kind": alert.kind}}
    return {"text": _slack_cut(fallback, 300), "blocks": blocks, "metadata": metadata}
