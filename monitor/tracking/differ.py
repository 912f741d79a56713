"""The differ: from what a source said to stored tracking history and the events that follow.

The differ alone writes tracking history. Each batch of snapshots is diffed and stored in one
transaction; the events are published after the commit, so every subscriber sees stored state.
A snapshot identical to the last one from the same source costs one dictionary lookup.
A hand-over (a source naming the number that follows this one) changes the order, and orders
are written by the order book alone: the differ asks it, inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from monitor.bus import Bus
from monitor.clock import Clock
from monitor.events import (
    CheckpointsAdded,
    EtaChanged,
    Event,
    OrderStateChanged,
    StatusChanged,
)
from monitor.model import Checkpoint, Snapshot, SnapshotRow
from monitor.plugin import SourceSettings
from monitor.sourcekit import bounded
from monitor.store import Store
from monitor.tracking.derive import derive, new_checkpoints, snapshot_digest

if TYPE_CHECKING:
    from monitor.orders import OrderBook

log = structlog.get_logger("monitor.tracker")
_DEFAULTS = SourceSettings()  # for a source pushing before its settings are handed over


class Differ:
    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        clock: Clock,
        orders: OrderBook,
        settings: Mapping[str, SourceSettings] | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._orders = orders
        # Each source's settings, for how many checkpoints of a number to keep (the poller
        # hands them over on every change of sources).
        self.settings: Mapping[str, SourceSettings] = settings or {}
        self._digests = store.snapshot_digests()

    def apply(self, snapshots: Sequence[Snapshot]) -> list[Event]:
        """Store what is new in these snapshots and publish the resulting events.

        Also the entry point for pushed snapshots (webhooks).
        """
        fresh = []
        for snapshot in snapshots:
            keep = self._checkpoints_kept(snapshot.source)
            if len(snapshot.checkpoints) > keep:
                snapshot = replace(snapshot, checkpoints=_newest(snapshot.checkpoints, keep))
            digest = snapshot_digest(snapshot)
            if self._digests.get((snapshot.number, snapshot.source)) != digest:
                # Only what changed is checked: a steady answer was checked when it was new.
                fresh.append((bounded(snapshot), digest))
        if not fresh:
            return []
        now = self._clock.now()
        events: list[Event] = []
        with self._store.transaction():
            numbers = {s.number for s, _ in fresh}
            history = self._store.checkpoints(numbers)
            rows = {(r.number, r.source): r for r in self._store.snapshot_rows(numbers)}
            owners = self._store.orders_of_numbers(numbers)
            touched: dict[str, None] = {}
            for snapshot, digest in fresh:
                added = self._store_snapshot(snapshot, digest, rows, history, now)
                order_ids = tuple(owners.get(snapshot.number, ()))
                touched.update(dict.fromkeys(order_ids))
                if added:
                    events.append(
                        CheckpointsAdded(
                            at=now, number=snapshot.number, order_ids=order_ids, checkpoints=added
                        )
                    )
            handovers = {s.number: s.handover for s, _ in fresh if s.handover}
            events += self._refresh(touched, now, handovers=handovers, history=history, rows=rows)
        for snapshot, digest in fresh:
            self._digests[(snapshot.number, snapshot.source)] = digest
        for event in events:
            self._bus.publish(event)
        return events

    def _store_snapshot(
        self,
        snapshot: Snapshot,
        digest: str,
        rows: dict[tuple[str, str], SnapshotRow],
        history: dict[str, list[Checkpoint]],
        now: datetime,
    ) -> tuple[Checkpoint, ...]:
        keep = self._checkpoints_kept(snapshot.source)
        known = history.setdefault(snapshot.number, [])
        added = new_checkpoints(snapshot.checkpoints, known)
        if added:
            # Trimming costs a query per number: only when the number outgrows what is kept.
            trim = keep if len(known) + len(added) > keep else None
            self._store.add_checkpoints(snapshot.number, snapshot.source, added, now=now, keep=trim)
            known.extend(added)
            known.sort(key=lambda cp: cp.at)
            del known[:-keep]
        old = rows.get((snapshot.number, snapshot.source))
        row = SnapshotRow(
            number=snapshot.number,
            source=snapshot.source,
            status=snapshot.status,
            status_seen_at=old.status_seen_at if old and old.status == snapshot.status else now,
            eta=snapshot.eta,
            handover=snapshot.handover,
            newest_ts=newest.timestamp() if (newest := _newest_time(snapshot)) else None,
            digest=digest,
            fetched_at=snapshot.fetched_at,
            destination=snapshot.destination or None,
        )
        self._store.write_snapshot(row)
        rows[(row.number, row.source)] = row
        return added

    def _checkpoints_kept(self, source: str) -> int:
        settings = self.settings.get(source)
        return (settings or _DEFAULTS).max_checkpoints

    def refresh(self, order_ids: Iterable[str]) -> list[Event]:
        """Re-derive and store these orders' tracking state, then publish their views.

        For orders the buyer just changed: their view is published even when tracking is the same.
        """
        now = self._clock.now()
        with self._store.transaction():
            events = self._refresh(dict.fromkeys(order_ids), now, handovers={}, force=True)
        for event in events:
            self._bus.publish(event)
        return events

    def _refresh(
        self,
        order_ids: Iterable[str],
        now: datetime,
        *,
        handovers: dict[str, str],
        force: bool = False,
        history: dict[str, list[Checkpoint]] | None = None,
        rows: dict[tuple[str, str], SnapshotRow] | None = None,
    ) -> list[Event]:
        """Derive the orders' state again; `history` and `rows` are what the caller has loaded."""
        events: list[Event] = []
        views = self._store.get_views(order_ids)
        added_at = self._store.tracks_added_at(views)
        history = dict(history or {})
        rows = dict(rows or {})
        wanted = {n for view in views.values() for n in view.order.tracks} | set(handovers.values())
        missing = wanted - history.keys()
        history.update(self._store.checkpoints(missing))
        rows.update({(r.number, r.source): r for r in self._store.snapshot_rows(missing)})
        by_number: dict[str, list[SnapshotRow]] = {}
        for row in rows.values():
            by_number.setdefault(row.number, []).append(row)
        for view in views.values():
            order = view.order
            for number in order.tracks:
                new_number = handovers.get(number)
                if new_number and new_number not in order.tracks:
                    order, said = self._orders.hand_over(order, number, new_number, now=now)
                    events += said
                    added_at.setdefault(order.id, {})[new_number] = now
            state = derive(
                order,
                view.tracking,
                [row for n in order.tracks for row in by_number.get(n, ())],
                {n: history.get(n, []) for n in order.tracks},
                added_at.get(order.id, {}),
            )
            if state == view.tracking and order == view.order and not force:
                continue
            self._store.write_tracking(order.id, state, now=now)
            old = view.tracking
            if state.status is not None and state.status != old.status:
                events.append(
                    StatusChanged(
                        at=now,
                        order_id=order.id,
                        old=old.status,
                        new=state.status,
                        since=state.status_since,
                    )
                )
            if state.eta != old.eta:
                events.append(EtaChanged(at=now, order_id=order.id, old=old.eta, new=state.eta))
            events.append(
                OrderStateChanged(at=now, view=replace(view, order=order, tracking=state))
            )
        return events


def _newest(checkpoints: Sequence[Checkpoint], keep: int) -> tuple[Checkpoint, ...]:
    """The `keep` newest: a carrier that sends a million scans must not fill memory and disk."""
    return tuple(sorted(checkpoints, key=lambda cp: cp.at)[-keep:])


def _newest_time(snapshot: Snapshot) -> datetime | None:
    return max((cp.at for cp in snapshot.checkpoints), default=None)
