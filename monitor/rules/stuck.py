"""A parcel that stopped moving: in transit, in customs, or waiting at the post office."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from monitor.model import OrderView, Severity, Status
from monitor.rules.base import Condition, RuleSettings

_MOVING = (Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.DELIVERY_FAILED, Status.EXCEPTION)


def _since(view: OrderView, rule: str, limit: timedelta, started_key: str) -> Condition | None:
    started = view.tracking.status_since
    if started is None:
        return None
    return Condition(
        rule=rule,
        key=f"{started_key}@{started.isoformat()}",
        severity=Severity.WARNING,
        due=started + limit,
    )


def stalled(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    tracking = view.tracking
    if tracking.status not in _MOVING:
        return
    last = tracking.last_checkpoint_at or tracking.status_since
    if last is None:
        return
    yield Condition(
        rule="stalled",
        key=f"last@{last.isoformat()}",
        severity=Severity.WARNING,
        due=last + settings.stalled_after,
    )


def customs_delay(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    if view.tracking.status is Status.CUSTOMS:
        condition = _since(view, "customs_delay", settings.customs_after, "customs")
        if condition:
            yield condition


def stuck_at_post_office(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    if view.tracking.status is Status.AT_POST_OFFICE:
        condition = _since(view, "stuck_at_post_office", settings.post_office_after, "arrived")
        if condition:
            yield condition
