"""A stored warning and its order, turned into a message: one title, a plain and a Markdown body.

Rendered at send time, so the message shows the order as it is then (a track number that came
later, the latest checkpoint) in the configured language. Both bodies come from the same lines,
so a plain-text channel (SMS, JSON) and a Markdown one (Telegram, ntfy) say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from monitor.events import Alert
from monitor.model import Order, OrderView, Severity
from monitor.notify.texts import (
    LABELS,
    RULES,
    STATUS_NAMES,
    Language,
    dispute_text,
    fill,
    fill_values,
    form_answers,
    leads_to_dispute,
    text_key,
)

_SEVERITIES = list(Severity)  # in rising order
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|<>])")


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    text: str
    markdown: str
    severity: Severity = Severity.INFO  # channels show it in their own way (Apprise's type)


def _md(value: str) -> str:
    """Escape what Markdown would otherwise treat as formatting in a user's own words."""
    return _MD_SPECIAL.sub(r"\\\1", value)


def _when(value: datetime, zone: tzinfo | None) -> str:
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"


class _Body:
    """Collects a message once and writes it both as plain text and as Markdown."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.markdown: list[str] = []

    def field(self, label: str, value: str) -> None:
        self.text.append(f"{label}: {value}")
        self.markdown.append(f"**{label}:** {_md(value)}  ")

    def heading(self, label: str) -> None:
        self.text += ["", f"{label}:"]
        self.markdown += ["", f"**{label}:**", ""]

    def steps(self, steps: Sequence[str], markdown: Sequence[str] | None = None) -> None:
        for number, (step, marked) in enumerate(zip(steps, markdown or steps, strict=True), 1):
            self.text.append(f"{number}. {step}")
            self.markdown.append(f"{number}. {marked}")

    def verbatim(self, block: str) -> None:
        # A code block keeps the dispute text copyable as it is, line breaks included.
        self.text += ["-----", block, "-----"]
        self.markdown += ["```", block, "```"]


def _order_fields(
    body: _Body, view: OrderView, alert: Alert, lang: Language, zone: tzinfo | None
) -> None:
    labels = LABELS[lang]
    order, tracking = view.order, view.tracking
    body.field(labels.order, order.id + (f" — {order.title}" if order.title else ""))
    body.field(labels.ordered, _when(order.ordered_at, zone))
    body.field(labels.track, order.track or alert.track or labels.no_track)
    if tracking.status is not None:
        body.field(labels.status, STATUS_NAMES[lang][tracking.status])
    cp = tracking.last_checkpoint
    if cp is not None:
        where = ", ".join(part for part in (cp.text, cp.location) if part)
        body.field(labels.last_checkpoint, f"{_when(cp.at, zone)} {where}".strip())
    if tracking.eta is not None:
        body.field(labels.eta, str(tracking.eta))
    if order.promised_by is not None:
        body.field(labels.promised, order.promised_by.isoformat())
    if order.protection_until is not None:
        body.field(labels.protection, _when(order.protection_until, zone))


def _fallback_view(alert: Alert) -> OrderView:
    """No order to show (a replay sent with `--notify`): say what the warning itself knows."""
    tracks = (alert.track,) if alert.track else ()
    return OrderView(order=Order(id=alert.order_id, ordered_at=alert.at, tracks=tracks))


def render(
    alert: Alert, view: OrderView | None, lang: Language, zone: tzinfo | None = None
) -> Message:
    """The message for one warning: what happened, the order's facts, the next steps."""
    view = view or _fallback_view(alert)
    key = text_key(alert.rule, view, alert.facts)
    text, labels = RULES[lang][key], LABELS[lang]
    body = _Body()
    _order_fields(body, view, alert, lang, zone)
    values = fill_values(view, alert.facts, lang, zone)
    # The carrier's words (a place, a scan's text) must not turn into Markdown formatting.
    marked = {key: _md(value) for key, value in values.items()}
    if text.situation:
        body.text += ["", fill(text.situation, values)]
        body.markdown += ["", fill(text.situation, marked)]
    body.heading(labels.next_steps)
    body.steps(
        [fill(step, values) for step in text.steps], [fill(step, marked) for step in text.steps]
    )
    if leads_to_dispute(alert.rule, view, alert.facts):
        body.heading(labels.dispute)
        body.verbatim(dispute_text(alert.rule, view, alert.facts))
        body.heading(labels.form)
        for question, answer in form_answers(lang, key):
            body.field(question, answer)
    title = f"{text.headline}: {view.order.id}"
    if view.order.title:
        title += f" ({view.order.title})"
    if alert.severity is Severity.CRITICAL:
        title = labels.critical + title
    return Message(
        title=title,
        text="\n".join(body.text).strip(),
        markdown="\n".join(body.markdown).strip(),
        severity=alert.severity,
    )


def render_digest(
    items: Sequence[tuple[Alert, OrderView | None]], lang: Language, zone: tzinfo | None = None
) -> Message:
    """Several info notifications as one message, each kept whole."""
    return digest_of([render(alert, view, lang, zone) for alert, view in items], lang)


def digest_of(parts: Sequence[Message], lang: Language) -> Message:
    """Messages rendered one by one, as one digest message."""
    title = LABELS[lang].digest_title.format(count=len(parts))
    return Message(
        title=title,
        text="\n\n".join(f"== {p.title}\n{p.text}" for p in parts),
        markdown="\n\n".join(f"### {_md(p.title)}\n\n{p.markdown}" for p in parts),
        severity=max((p.severity for p in parts), key=_SEVERITIES.index, default=Severity.INFO),
    )


def render_test(lang: Language) -> Message:
    labels = LABELS[lang]
    return Message(title=labels.test_title, text=labels.test_body, markdown=labels.test_body)
