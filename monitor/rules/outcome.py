"""How it ended: delivered, or on its way back to the seller."""

from __future__ import annotations

from collections.abc import Iterator

from monitor.model import OrderView, Severity, Status
from monitor.rules.base import Condition, RuleSettings


def returning(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    tracking = view.tracking
    if tracking.status is Status.RETURNING and tracking.status_since is not None:
        yield Condition(rule="returning", key="returning", severity=Severity.WARNING, due=None)


def delivered(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    tracking = view.tracking
    if tracking.status is Status.DELIVERED and tracking.status_since is not None:
        yield Condition(rule="delivered", key="delivered", severity=Severity.INFO, due=None)
