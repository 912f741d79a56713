"""The rule engine: runs the rules on every changed order and on the clock's ticks.

It keeps the views of open orders in memory and a heap of the next moment each order needs a look,
so a tick costs nothing until something falls due. The ledger (in the store) is the truth about
what fired; a condition recorded there never fires again, even from another process.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import structlog

from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import Alert, OrderRemoved, OrderStateChanged, Tick, WarningRaised
from monitor.model import OrderView
from monitor.rules.base import Condition, Rule, RuleSettings, held_until
from monitor.rules.dates import eta_shifted, overdue, protection_expiring
from monitor.rules.ids import OUTCOME_RULES, UNHELD_RULES, UNTIL_REALLY_DELIVERED
from monitor.rules.lastmile import (
    action_required,
    delivered_elsewhere,
    delivery_failed,
    protection_gap,
    storage_ending,
    wrong_destination,
)
from monitor.rules.outcome import delivered, returning
from monitor.rules.stuck import customs_delay, stalled, stuck_at_post_office
from monitor.rules.waiting import not_trackable, track_missing
from monitor.store import Store, StoreError

log = structlog.get_logger("monitor.rules")

Describer = Callable[[str, OrderView, dict[str, str]], tuple[str, str]]
"""Words for the ledger (title, body) of a condition: presentation's, handed in where the
pipeline is assembled, so the rules produce facts only."""

RULES: dict[str, Rule] = {
    "track_missing": track_missing,
    "not_trackable": not_trackable,
    "eta_shifted": eta_shifted,
    "stalled": stalled,
    "customs_delay": customs_delay,
    "stuck_at_post_office": stuck_at_post_office,
    "overdue": overdue,
    "protection_expiring": protection_expiring,
    "protection_gap": protection_gap,
    "action_required": action_required,
    "delivery_failed": delivery_failed,
    "storage_ending": storage_ending,
    "wrong_destination": wrong_destination,
    "returning": returning,
    "delivered": delivered,
}
"""Every rule of `ids.RULE_IDS`, in that order (a test keeps the two lists the same)."""


def conditions(view: OrderView, settings: RuleSettings) -> list[Condition]:
    if view.order.closed:
        return []
    final = view.is_final
    elsewhere = final and delivered_elsewhere(view, settings) is not None
    found: list[Condition] = []
    for rule_id, rule in RULES.items():
        watched = not final or rule_id in OUTCOME_RULES
        watched = watched or (elsewhere and rule_id in UNTIL_REALLY_DELIVERED)
        if rule_id in settings.disabled or not watched:
            continue
        try:
            found.extend(rule(view, settings))
        except (OverflowError, ValueError) as exc:
            # A date at the edge of the calendar (year 9999) must not silence the other rules,
            # nor the other orders: this rule stays quiet for this order until it is fixed.
            log.error("monitor.rule_failed", order=view.order.id, rule=rule_id, reason=str(exc))
    return found


class RuleEngine:
    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        settings: RuleSettings,
        describe: Describer,
        enqueue: bool = True,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self.settings = settings
        self._describe = describe
        self._enqueue = enqueue
        self._views: dict[str, OrderView] = {}
        self._fired = store.fired_conditions()
        self._wake: list[tuple[datetime, str]] = []
        self._next: dict[str, datetime] = {}
        self._unsubscribe = [
            bus.subscribe(OrderStateChanged, _deferring(lambda e: self.evaluate(e.view))),
            bus.subscribe(OrderRemoved, lambda e: self.forget(e.order_id)),
            bus.subscribe(Tick, _deferring(lambda e: self.wake())),
        ]

    @property
    def watching(self) -> int:
        """How many open orders the engine is keeping an eye on."""
        return len(self._views)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def load(self, views: Sequence[OrderView]) -> list[Alert]:
        """Start watching these orders; raises whatever fell due while we were away."""
        raised = []
        for view in views:
            try:
                raised += self.evaluate(view)
            except StoreError:  # a full disk: evaluate() queued it for the next tick
                log.debug("monitor.warning_deferred", order=view.order.id)
        return raised

    def forget(self, order_id: str) -> None:
        self._views.pop(order_id, None)
        self._next.pop(order_id, None)

    def wake(self) -> list[Alert]:
        """Look again at every order whose next condition is due by now."""
        now = self._clock.now()
        raised = []
        while self._wake and self._wake[0][0] <= now:
            _, order_id = heapq.heappop(self._wake)
            view = self._views.get(order_id)
            if view is not None and self._next.get(order_id, now) <= now:
                raised += self.evaluate(view)
        return raised

    def evaluate(self, view: OrderView) -> list[Alert]:
        now = self._clock.now()
        order_id = view.order.id
        found = conditions(view, self.settings)
        held = held_until(view, self.settings)
        if held is not None and held <= now:
            held = None
        raised = []
        upcoming: datetime | None = None
        for condition in found:
            if (order_id, condition.rule, condition.key) in self._fired:
                continue
            if held is not None and condition.rule not in UNHELD_RULES:
                # Looked at again when the grace ends; the first answer re-evaluates it sooner.
                upcoming = held if upcoming is None else min(upcoming, held)
                continue
            if condition.live_at(now):
                try:
                    alert = self._raise(view, condition, now)
                except StoreError:
                    # Not recorded (a full disk): look again at the next tick, so the warning
                    # is raised late rather than never.
                    self._views[order_id] = view
                    self._next[order_id] = now
                    heapq.heappush(self._wake, (now, order_id))
                    raise
                if alert is not None:
                    raised.append(alert)
            elif condition.due is not None and condition.due > now:
                upcoming = condition.due if upcoming is None else min(upcoming, condition.due)
        if view.order.closed or (view.is_final and upcoming is None):
            self.forget(order_id)
        else:
            self._views[order_id] = view
            if upcoming is None:
                self._next.pop(order_id, None)
            else:
                self._next[order_id] = upcoming
                heapq.heappush(self._wake, (upcoming, order_id))
        return raised

    def _raise(self, view: OrderView, condition: Condition, now: datetime) -> Alert | None:
        title, body = self._describe(condition.rule, view, condition.facts)
        alert = Alert(
            order_id=view.order.id,
            rule=condition.rule,
            condition=condition.key,
            severity=condition.severity,
            at=now,
            due=condition.due or now,
            title=title,
            body=body,
            track=view.order.track,
            facts=condition.facts,
        )
        recorded = self._store.record_alert(alert, enqueue=self._enqueue)
        self._fired.add((alert.order_id, alert.rule, alert.condition))  # only once it is stored
        if recorded is None:
            log.debug("monitor.warning_already_recorded", order=alert.order_id, rule=alert.rule)
            return None
        log.info(
            "monitor.warning",
            order=alert.order_id,
            rule=alert.rule,
            severity=alert.severity.value,
            condition=alert.condition,
            track=alert.track,
        )
        self._bus.publish(WarningRaised(at=now, alert=alert))
        return alert


def _deferring(action: Callable[[Any], object]) -> Callable[[Any], None]:
    """A bus handler that leaves a warning for the next tick when the store cannot record it
    (the store has logged why, once; no traceback every minute of a full disk)."""

    def run(event: Any) -> None:
        try:
            action(event)
        except StoreError:
            log.debug("monitor.warning_deferred", reason="the database cannot be written")

    return run
