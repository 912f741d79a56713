"""The outbox queries: what waits to be sent, what was sent where, what failed.

`Store.record_alert` puts a warning into the `outbox` table in the transaction that records it;
everything after that lives here. A row is `pending` until every channel it is routed to has
confirmed it (`sent`), it is given up on (`failed`: no channel would take it, or it cannot be
rendered), its order is muted (`muted`) or was removed before it went out (`removed`).
`notify_deliveries` remembers each channel that confirmed a message, so a retry after a partial
failure goes only to the channels still missing it. Both tables are created by the store's
migrations; the queries are this module's (`Store.connection` is meant for such parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.events import Alert
from monitor.store import Store, alert_from_row

PENDING, SENT, FAILED, MUTED, REMOVED = "pending", "sent", "failed", "muted", "removed"


@dataclass(frozen=True, slots=True)
class Item:
    """One warning waiting in the outbox."""

    id: int
    alert: Alert
    attempts: int
    created_at: datetime
    last_error: str
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A notification that has not reached its channels, for `list` and `show`."""

    alert_id: int
    order_id: str
    rule: str
    state: str
    attempts: int
    last_error: str


def pending(store: Store) -> list[Item]:
    rows = store.connection.execute(
        """SELECT a.*, o.attempts, o.created_at AS queued_at, o.last_error, o.next_attempt_at
           FROM outbox o
           JOIN alerts a ON a.id = o.alert_id WHERE o.state = ? ORDER BY o.alert_id""",
        (PENDING,),
    )
    return [
        Item(
            id=row["id"],
            alert=alert_from_row(row),
            attempts=row["attempts"],
            created_at=datetime.fromisoformat(row["queued_at"]),
            last_error=row["last_error"],
            next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
        )
        for row in rows
    ]


def delivered_to(store: Store, alert_id: int) -> set[str]:
    return {
        row[0]
        for row in store.connection.execute(
            "SELECT target FROM notify_deliveries WHERE alert_id = ?", (alert_id,)
        )
    }


def record_delivery(store: Store, alert_ids: Sequence[int], target: str, now: datetime) -> None:
    """A channel confirmed these warnings (one message, or one digest holding them all)."""
    with store.transaction() as db:
        db.executemany(
            "INSERT OR IGNORE INTO notify_deliveries (alert_id, target, sent_at) VALUES (?, ?, ?)",
            [(alert_id, target, now.isoformat()) for alert_id in alert_ids],
        )


def mark_sent(store: Store, alert_ids: Sequence[int], now: datetime) -> None:
    with store.transaction() as db:
        db.executemany(
            """UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1, last_error = ''
               WHERE alert_id = ? AND state = ?""",
            [(SENT, now.isoformat(), alert_id, PENDING) for alert_id in alert_ids],
        )


def mark_retry(store: Store, alert_ids: Sequence[int], error: str, next_at: datetime) -> None:
    with store.transaction() as db:
        db.executemany(
            """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
               WHERE alert_id = ? AND state = ?""",
            [(error, next_at.isoformat(), alert_id, PENDING) for alert_id in alert_ids],
        )


def mark_final(store: Store, alert_ids: Sequence[int], state: str, error: str = "") -> None:
    """Stop trying: `failed` (given up, no channel for it, cannot be rendered), `muted` or
    `removed`."""
    with store.transaction() as db:
        db.executemany(
            "UPDATE outbox SET state = ?, last_error = ? WHERE alert_id = ? AND state = ?",
            [(state, error, alert_id, PENDING) for alert_id in alert_ids],
        )


def requeue_failed(store: Store, now: datetime, order_id: str | None = None) -> int:
    """Failed notifications go back to `pending`, with a fresh give-up period from now."""
    where = "state = ?" + (
        " AND alert_id IN (SELECT id FROM alerts WHERE order_id = ?)" if order_id else ""
    )
    args: tuple[str, ...] = (FAILED, order_id) if order_id else (FAILED,)
    with store.transaction() as db:
        cursor = db.execute(
            f"""UPDATE outbox SET state = '{PENDING}', attempts = 0, last_error = '',
                next_attempt_at = ?, created_at = ? WHERE {where}""",
            (now.isoformat(), now.isoformat(), *args),
        )
        return cursor.rowcount


def undelivered(store: Store, order_ids: Iterable[str] | None = None) -> list[Undelivered]:
    """Pending and failed notifications, oldest first, optionally for some orders only."""
    rows = store.connection.execute(
        """SELECT a.id, a.order_id, a.rule, o.state, o.attempts, o.last_error FROM outbox o
           JOIN alerts a ON a.id = o.alert_id WHERE o.state IN (?, ?) ORDER BY a.id""",
        (PENDING, FAILED),
    )
    wanted = set(order_ids) if order_ids is not None else None
    return [
        Undelivered(
            alert_id=row[0],
            order_id=row[1],
            rule=row[2],
            state=row[3],
            attempts=row[4],
            last_error=row[5],
        )
        for row in rows
        if wanted is None or row[1] in wanted
    ]
