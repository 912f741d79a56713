"""The buyer's side: adding, changing, closing and removing orders.

The CLI, the HTTP API, MQTT commands, replays and the tracking differ (hand-overs) all change
orders through this one class, so validation, storage and the events that follow are the same
whichever way a change comes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from datetime import datetime, tzinfo
from typing import Any

import structlog

from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import Event, OrderAdded, OrderRemoved, OrderUpdated, TrackAssigned
from monitor.model import Order, OrderView
from monitor.store import Store, UnknownOrder

log = structlog.get_logger("monitor.tracker")

EDITABLE = frozenset(f.name for f in fields(Order)) - {"id", "tracks"}


class OrderBook:
    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        refresh: Callable[[Iterable[str]], object],
        zone: tzinfo | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        # Re-derives a changed order's tracking state and publishes its view (the differ's).
        self._refresh = refresh
        # The user's zone: a date typed without a time is midnight there (`Settings.zone()`).
        self.zone = zone

    def now(self) -> datetime:
        return self._clock.now()

    def get(self, order_id: str) -> OrderView:
        view = self._store.get_view(order_id)
        if view is None:
            raise UnknownOrder(f"no order {order_id}")
        return view

    def add(self, order: Order) -> OrderView:
        now = self._clock.now()
        self._store.add_order(order, now=now)
        self._bus.publish(OrderAdded(at=now, order=order))
        self._refresh([order.id])
        return self.get(order.id)

    def update(self, order_id: str, *, track: str | None = None, **changes: Any) -> OrderView:
        """Change fields of an order; `track` adds a number (it becomes the current one)."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))} of an order")
        current = self.get(order_id).order
        updated = replace(current, **changes)  # Order validates itself here
        if track is not None and track != current.track:
            tracks = (*(n for n in current.tracks if n != track), track)
            updated = replace(updated, tracks=tracks)
        if updated == current:
            return self.get(order_id)
        now = self._clock.now()
        self._store.update_order(updated, now=now)
        changed = tuple(
            f.name for f in fields(Order) if getattr(current, f.name) != getattr(updated, f.name)
        )
        self._bus.publish(OrderUpdated(at=now, order=updated, changed=changed))
        if updated.track != current.track and updated.track is not None:
            self._bus.publish(
                TrackAssigned(
                    at=now, order_id=order_id, number=updated.track, previous=current.track
                )
            )
        self._refresh([order_id])
        return self.get(order_id)

    def hand_over(
        self, order: Order, number: str, new_number: str, *, now: datetime
    ) -> tuple[Order, list[Event]]:
        """A source said `number` continues as `new_number`: it becomes the order's current one.

        Called by the differ inside its transaction; the events are returned, not published, so
        the differ publishes them after its commit, together with what follows from them.
        """
        updated = replace(order, tracks=(*order.tracks, new_number))
        self._store.update_order(updated, now=now)
        log.info("monitor.tracking.handover", order=order.id, number=number, new_number=new_number)
        return updated, [
            OrderUpdated(at=now, order=updated, changed=("tracks",)),
            TrackAssigned(at=now, order_id=order.id, number=new_number, previous=order.track),
        ]

    def close(self, order_id: str) -> OrderView:
        return self.update(order_id, closed=True)

    def remove(self, order_id: str) -> None:
        self._store.remove_order(order_id)
        self._bus.publish(OrderRemoved(at=self._clock.now(), order_id=order_id))
