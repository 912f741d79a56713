"""How it ended: delivered, or on its way back to the seller."""

from __future__ import annotations

from collections.abc import Iterator

from monitor.model import OrderView, Severity, Status
from monitor.rules.base import Condition, RuleSettings
from monitor.rules.lastmile import delivered_elsewhere


def returning(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    tracking = view.tracking
    if tracking.status is Status.RETURNING and tracking.status_since is not None:
        yield Condition(rule="returning", key="returning", severity=Severity.WARNING, due=None)


def delivered(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """Delivered; at another place than the buyer's, the facts say where (and it is no news
    to file away: confirming such a "receipt" would end the buyer's protection)."""
    tracking = view.tracking
    if tracking.status is not Status.DELIVERED or tracking.status_since is None:
        return
    elsewhere = delivered_elsewhere(view, settings)
    if elsewhere is None:
        yield Condition(rule="delivered", key="delivered", severity=Severity.INFO, due=None)
    else:
        yield Condition(
            rule="delivered", key="delivered", severity=Severity.WARNING, due=None, facts=elsewhere
        )
