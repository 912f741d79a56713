"""Waiting for the seller: no track number, or a number no carrier ever scanned."""

from __future__ import annotations

from collections.abc import Iterator

from monitor.model import OrderView, Severity, Status
from monitor.rules.base import Condition, RuleSettings

_UNSCANNED = (None, Status.NOT_FOUND, Status.INFO_RECEIVED)


def track_missing(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    order = view.order
    if order.tracks:
        return
    yield Condition(
        rule="track_missing",
        key="paid",
        severity=Severity.WARNING,
        due=order.paid + settings.track_missing_after,
    )


def not_trackable(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    order, tracking = view.order, view.tracking
    if not order.tracks or tracking.status not in _UNSCANNED:
        return
    since = tracking.track_since or order.paid
    yield Condition(
        rule="not_trackable",
        key=str(order.track),
        severity=Severity.WARNING,
        due=since + settings.not_trackable_after,
    )
