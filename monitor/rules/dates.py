"""Dates that slip or pass: the ETA moving later, the promised day passing, protection ending."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from monitor.model import OrderView, Severity
from monitor.rules.base import Condition, RuleSettings


def eta_shifted(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """Warn once the ETA moved later enough; then again on every further later move."""
    tracking = view.tracking
    first, last, moves = (
        tracking.eta_first_latest,
        tracking.eta_last_latest,
        tracking.eta_later_moves,
    )
    if first is None or last is None or moves == 0:
        return
    total = last - first
    if moves < settings.eta_shift_moves and total < settings.eta_shift_total:
        return
    # Each later move is its own condition, due the moment it is seen.
    yield Condition(
        rule="eta_shifted",
        key=f"move-{moves}",
        severity=Severity.WARNING,
        due=None,
        facts={
            "first_eta": first.isoformat(),
            "eta": last.isoformat(),
            "moves": str(moves),
            "shift_days": str(total.days),
        },
    )


def midnight_after(day: date, like: datetime) -> datetime:
    """The end of a day, in the offset of `like` (the order's date): when "by that day" ends."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=like.tzinfo)


def overdue(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    order, tracking = view.order, view.tracking
    if order.promised_by is not None:
        key, day = f"promised@{order.promised_by.isoformat()}", order.promised_by
    elif tracking.eta is not None:
        # Keyed by the day: an estimate that moves later and passes again is overdue again.
        key, day = f"eta@{tracking.eta.latest.isoformat()}", tracking.eta.latest
    else:
        return
    yield Condition(
        rule="overdue",
        key=key,
        severity=Severity.WARNING,
        due=midnight_after(day, order.ordered_at),
        facts={"deadline": day.isoformat()},
    )


def protection_expiring(view: OrderView, settings: RuleSettings) -> Iterator[Condition]:
    """Two reminders per deadline; the first gives way once the critical one is due."""
    end = view.order.protection_until
    if end is None:
        return
    critical_at = end - settings.protection_critical
    yield Condition(
        rule="protection_expiring",
        key=f"first@{end.isoformat()}",
        severity=Severity.WARNING,
        due=end - settings.protection_reminder,
        expires=critical_at,
        facts={"protection_until": end.isoformat()},
    )
    yield Condition(
        rule="protection_expiring",
        key=f"last@{end.isoformat()}",
        severity=Severity.CRITICAL,
        due=critical_at,
        expires=end,
        facts={"protection_until": end.isoformat()},
    )
