"""Orders and their track numbers: writing them, the tracker's conclusions, reading views.

Every write bumps the store's revision (`meta.rev`), and a removed order leaves its id in
`removed_orders`, so readers can ask what changed since the revision they last saw.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import NamedTuple

from monitor.model import Order, OrderView, Status, TrackingState
from monitor.store.codec import (
    checkpoint_from_json,
    checkpoint_json,
    checkpoints_from_json,
    checkpoints_json,
    chunks,
    day,
    destination,
    dt,
    eta,
    iso,
    marks,
    stay_from_json,
    stay_json,
)
from monitor.store.db import Database, DuplicateOrder, UnknownOrder


class OrderRank(NamedTuple):
    """An order as far as sorting and searching the overview needs it (a tuple: 1,000 of them
    are built for every look at the overview)."""

    order_id: str
    title: str
    tracks: tuple[str, ...]
    final: bool  # closed, delivered or returning
    protection_until: datetime | None
    storage_until: date | None
    warnings: int
    critical: int


class Orders(Database):
    """The `orders`, `tracks` and `removed_orders` tables (and `meta.rev`)."""

    def add_order(self, order: Order, *, now: datetime) -> None:
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM orders WHERE id = ?", (order.id,)).fetchone():
                raise DuplicateOrder(f"order {order.id} already exists; use `update` to change it")
            db.execute(
                "INSERT INTO orders (id, ordered_at, created_at, rev) VALUES (?, ?, ?, 0)",
                (order.id, order.ordered_at.isoformat(), now.isoformat()),
            )
            self._write_order(order, now=now)

    def update_order(self, order: Order, *, now: datetime) -> None:
        with self.transaction() as db:
            if not db.execute("SELECT 1 FROM orders WHERE id = ?", (order.id,)).fetchone():
                raise UnknownOrder(f"no order {order.id}")
            self._write_order(order, now=now)

    def _write_order(self, order: Order, *, now: datetime) -> None:
        db = self._conn
        db.execute(
            """UPDATE orders SET title = ?, shop = ?, ordered_at = ?, paid_at = ?,
               protection_until = ?, promised_by = ?, estimate_from = ?, estimate_to = ?,
               notes = ?, closed = ?, origin = ?, muted = ?, rev = ? WHERE id = ?""",
            (
                order.title,
                order.shop,
                order.ordered_at.isoformat(),
                iso(order.paid_at),
                iso(order.protection_until),
                iso(order.promised_by),
                iso(order.estimate.earliest) if order.estimate else None,
                iso(order.estimate.latest) if order.estimate else None,
                order.notes,
                int(order.closed),
                order.origin,
                int(order.muted),
                self._next_rev(),
                order.id,
            ),
        )
        known = {
            row["number"]: row["position"]
            for row in db.execute(
                "SELECT number, position FROM tracks WHERE order_id = ?", (order.id,)
            )
        }
        for number in set(known) - set(order.tracks):
            db.execute("DELETE FROM tracks WHERE order_id = ? AND number = ?", (order.id, number))
        for position, number in enumerate(order.tracks):
            if number not in known:
                db.execute(
                    "INSERT INTO tracks (order_id, number, position, added_at) VALUES (?, ?, ?, ?)",
                    (order.id, number, position, now.isoformat()),
                )
            elif known[number] != position:
                db.execute(
                    "UPDATE tracks SET position = ? WHERE order_id = ? AND number = ?",
                    (position, order.id, number),
                )

    def remove_order(self, order_id: str) -> None:
        with self.transaction() as db:
            if not db.execute("DELETE FROM orders WHERE id = ?", (order_id,)).rowcount:
                raise UnknownOrder(f"no order {order_id}")
            db.execute(
                "INSERT INTO removed_orders (order_id, rev) VALUES (?, ?)",
                (order_id, self._next_rev()),
            )

    def get_order(self, order_id: str) -> Order | None:
        view = self.get_view(order_id)
        return view.order if view else None

    def get_view(self, order_id: str) -> OrderView | None:
        views = self._views("WHERE o.id = ?", (order_id,))
        return views[0] if views else None

    def get_views(self, order_ids: Iterable[str]) -> dict[str, OrderView]:
        views: dict[str, OrderView] = {}
        for chunk in chunks(list(order_ids)):
            for view in self._views(f"WHERE o.id IN ({marks(chunk)})", chunk):
                views[view.order.id] = view
        return views

    def muted_order_ids(self) -> set[str]:
        """The orders the buyer muted (`Order.muted`)."""
        return {row[0] for row in self._conn.execute("SELECT id FROM orders WHERE muted = 1")}

    def views(self, *, include_closed: bool = True) -> list[OrderView]:
        return self._views("" if include_closed else "WHERE o.closed = 0", ())

    def views_changed_since(self, rev: int) -> tuple[list[OrderView], list[str], int]:
        """Orders written and ids removed after `rev`, and the rev to ask from next time.

        The revision is read first: a change committed while the queries run is then seen again
        next time (harmless), never skipped.
        """
        now = self.current_rev()
        changed = self._views("WHERE o.rev > ? AND o.rev <= ?", (rev, now))
        removed = [
            row[0]
            for row in self._conn.execute(
                "SELECT order_id FROM removed_orders WHERE rev > ? AND rev <= ? ORDER BY rev",
                (rev, now),
            )
        ]
        return changed, removed, now

    def _views(self, where: str, args: Sequence[object]) -> list[OrderView]:
        rows = self._conn.execute(
            f"SELECT * FROM orders o {where} ORDER BY o.ordered_at", args
        ).fetchall()
        if not rows:
            return []
        tracks: dict[str, list[tuple[str, str, int]]] = {}
        # Whether a source answered for a number is a fact of the snapshots table (its primary
        # key starts with the number, so this is one index probe per number).
        query = (
            "SELECT order_id, number, added_at, "
            "EXISTS (SELECT 1 FROM snapshots s WHERE s.number = tracks.number) FROM tracks"
        )
        if len(rows) <= 500:
            ids = [row["id"] for row in rows]
            track_rows = self._conn.execute(
                f"{query} WHERE order_id IN ({marks(ids)}) ORDER BY order_id, position", ids
            )
        else:
            track_rows = self._conn.execute(f"{query} ORDER BY order_id, position")
        for order_id, number, added_at, answered in track_rows:
            tracks.setdefault(order_id, []).append((number, added_at, answered))
        views = []
        for row in rows:
            numbers = tracks.get(row["id"], [])
            # The current number's age is a fact of the tracks table, whoever wrote the order.
            since = datetime.fromisoformat(numbers[-1][1]) if numbers else None
            answered = bool(numbers and numbers[-1][2])
            views.append(_view_from_row(row, tuple(n for n, _, _ in numbers), since, answered))
        return views

    def tracks_added_at(self, order_ids: Iterable[str]) -> dict[str, dict[str, datetime]]:
        """Order id -> {number: when it was added}, for a batch of orders."""
        added: dict[str, dict[str, datetime]] = {}
        for chunk in chunks(list(order_ids)):
            for order_id, number, at in self._conn.execute(
                f"SELECT order_id, number, added_at FROM tracks WHERE order_id IN ({marks(chunk)})",
                chunk,
            ):
                added.setdefault(order_id, {})[number] = datetime.fromisoformat(at)
        return added

    def write_tracking(self, order_id: str, state: TrackingState, *, now: datetime) -> None:
        """Store the tracker's conclusion about an order (inside the caller's transaction)."""
        db = self._conn
        old = db.execute("SELECT eta_from, eta_to FROM orders WHERE id = ?", (order_id,)).fetchone()
        new_eta = (iso(state.eta.earliest), iso(state.eta.latest)) if state.eta else (None, None)
        if old is not None and (old[0], old[1]) != new_eta:
            db.execute(
                "INSERT INTO eta_history (order_id, seen_at, eta_from, eta_to) VALUES (?, ?, ?, ?)",
                (order_id, now.isoformat(), *new_eta),
            )
        place = state.destination
        db.execute(
            """UPDATE orders SET status = ?, status_since = ?, last_cp = ?, eta_from = ?,
               eta_to = ?, eta_first_latest = ?, eta_last_latest = ?, eta_later_moves = ?,
               stay = ?, dest_country = ?, dest_postcode = ?, asks = ?, failed_attempts = ?,
               places = ? WHERE id = ?""",
            (
                state.status.value if state.status else None,
                iso(state.status_since),
                checkpoint_json(state.last_checkpoint),
                *new_eta,
                iso(state.eta_first_latest),
                iso(state.eta_last_latest),
                state.eta_later_moves,
                stay_json(state.stay),
                place.country if place is not None else None,
                place.postcode if place is not None else None,
                checkpoints_json(state.asks),
                checkpoints_json(state.failed_attempts),
                checkpoints_json(state.places),
                order_id,
            ),
        )

    # --- which orders follow which numbers -------------------------------------------------

    def watched_numbers(self) -> dict[str, list[str]]:
        """Track number -> ids of the open orders that are not final yet."""
        rows = self._conn.execute(
            """SELECT t.number, t.order_id FROM tracks t JOIN orders o ON o.id = t.order_id
               WHERE o.closed = 0
                 AND (o.status IS NULL OR o.status NOT IN ('delivered', 'returning'))
               ORDER BY t.number"""
        )
        watched: dict[str, list[str]] = {}
        for number, order_id in rows:
            watched.setdefault(number, []).append(order_id)
        return watched

    def orders_of_numbers(self, numbers: Iterable[str]) -> dict[str, list[str]]:
        """Track number -> ids of the orders that carry it (one query for a whole batch)."""
        owners: dict[str, list[str]] = {}
        for chunk in chunks(list(numbers)):
            for number, order_id in self._conn.execute(
                f"SELECT number, order_id FROM tracks WHERE number IN ({marks(chunk)})", chunk
            ):
                owners.setdefault(number, []).append(order_id)
        return owners

    def open_order_count(self) -> int:
        """Orders not closed by the buyer (delivered ones included)."""
        return int(self._conn.execute("SELECT count(*) FROM orders WHERE closed = 0").fetchone()[0])

    def order_ranks(self, *, include_closed: bool) -> list[OrderRank]:
        """What ranking and searching the orders needs, without building their views."""
        final = [status.value for status in Status if status.is_final]
        rows = self._conn.execute(
            f"""SELECT o.id, o.title, o.closed OR o.status IN ({marks(final)}),
                       o.protection_until, json_extract(o.stay, '$.storage_until'),
                       COALESCE(a.n, 0), COALESCE(a.critical, 0)
                FROM orders o LEFT JOIN (
                    SELECT order_id, COUNT(*) AS n, SUM(severity = 'critical') AS critical
                    FROM alerts GROUP BY order_id) a ON a.order_id = o.id
                {"" if include_closed else "WHERE o.closed = 0"}""",
            final,
        ).fetchall()
        tracks: dict[str, list[str]] = {}
        for order_id, number in self._conn.execute(
            "SELECT order_id, number FROM tracks ORDER BY order_id, position"
        ):
            tracks.setdefault(order_id, []).append(number)
        return [
            OrderRank(
                order_id,
                title,
                tuple(tracks.get(order_id, ())),
                bool(is_final),
                dt(protection),
                day(storage),
                warnings,
                critical,
            )
            for order_id, title, is_final, protection, storage, warnings, critical in rows
        ]


def _view_from_row(
    row: sqlite3.Row, tracks: tuple[str, ...], track_since: datetime | None, answered: bool
) -> OrderView:
    order = Order(
        id=row["id"],
        ordered_at=datetime.fromisoformat(row["ordered_at"]),
        paid_at=dt(row["paid_at"]),
        title=row["title"],
        shop=row["shop"],
        protection_until=dt(row["protection_until"]),
        promised_by=day(row["promised_by"]),
        estimate=eta(row["estimate_from"], row["estimate_to"]),
        tracks=tracks,
        notes=row["notes"],
        closed=bool(row["closed"]),
        origin=row["origin"],
        muted=bool(row["muted"]),
    )
    tracking = TrackingState(
        status=Status(row["status"]) if row["status"] else None,
        status_since=dt(row["status_since"]),
        last_checkpoint=checkpoint_from_json(row["last_cp"]),
        eta=eta(row["eta_from"], row["eta_to"]),
        eta_first_latest=day(row["eta_first_latest"]),
        eta_last_latest=day(row["eta_last_latest"]),
        eta_later_moves=row["eta_later_moves"],
        track_since=track_since,
        stay=stay_from_json(row["stay"]),
        destination=destination(row["dest_country"], row["dest_postcode"]),
        asks=checkpoints_from_json(row["asks"]),
        failed_attempts=checkpoints_from_json(row["failed_attempts"]),
        places=checkpoints_from_json(row["places"]),
        track_answered=answered,
    )
    return OrderView(order=order, tracking=tracking)
