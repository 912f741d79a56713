"""The warning ledger (`alerts`), the outbox and what each channel confirmed.

`record_alert` puts a warning into the outbox in the transaction that records it. An outbox row
is `pending` until every channel it is routed to has confirmed it (`sent`), it is given up on
(`failed`: no channel would take it, or it cannot be rendered), its order is muted (`muted`) or
was removed before it went out (`removed`). `notify_deliveries` remembers each channel that
confirmed a message, so a retry after a partial failure goes only to the channels still missing
it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from monitor.events import Alert
from monitor.model import Severity
from monitor.store.codec import chunks, marks
from monitor.store.db import Database


class OutboxState(StrEnum):
    """The one spelling of an outbox row's state (the column holds the value)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    MUTED = "muted"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    alert: Alert


@dataclass(frozen=True, slots=True)
class OutboxItem:
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
    state: OutboxState
    attempts: int
    last_error: str


@dataclass(frozen=True, slots=True)
class OutboxTrouble:
    """What the health check needs: warnings given up on, warnings being retried."""

    failed: int
    retrying: int
    last_error: str | None


class Ledger(Database):
    """The `alerts`, `outbox` and `notify_deliveries` tables."""

    def fired_conditions(self) -> set[tuple[str, str, str]]:
        return {
            (row[0], row[1], row[2])
            for row in self._conn.execute("SELECT order_id, rule, condition FROM alerts")
        }

    def record_alert(self, alert: Alert, *, enqueue: bool = True) -> int | None:
        """Add the warning to the ledger and, in the same transaction, to the outbox.

        Returns its id, or None when this condition had already fired (another process won).
        """
        with self.transaction() as db:
            cursor = db.execute(
                """INSERT OR IGNORE INTO alerts (order_id, rule, condition, severity, at, due,
                   title, body, track, facts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    alert.order_id,
                    alert.rule,
                    alert.condition,
                    alert.severity.value,
                    alert.at.isoformat(),
                    alert.due.isoformat(),
                    alert.title,
                    alert.body,
                    alert.track,
                    json.dumps(alert.facts, ensure_ascii=False),
                ),
            )
            if not cursor.rowcount:
                return None
            alert_id = int(cursor.lastrowid or 0)
            if enqueue:
                db.execute(
                    "INSERT INTO outbox (alert_id, next_attempt_at, created_at) VALUES (?, ?, ?)",
                    (alert_id, alert.at.isoformat(), alert.at.isoformat()),
                )
            return alert_id

    def alerts(self, order_id: str | None = None) -> list[StoredAlert]:
        where, args = ("WHERE order_id = ?", (order_id,)) if order_id else ("", ())
        return [
            StoredAlert(id=row["id"], alert=alert_from_row(row))
            for row in self._conn.execute(f"SELECT * FROM alerts {where} ORDER BY id", args)
        ]

    def last_alert_id(self) -> int:
        return int(self._conn.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()[0])

    def alerts_after(self, alert_id: int, limit: int = 100) -> list[StoredAlert]:
        """Ledger rows newer than `alert_id`, oldest first (whichever process recorded them)."""
        return [
            StoredAlert(id=row["id"], alert=alert_from_row(row))
            for row in self._conn.execute(
                "SELECT * FROM alerts WHERE id > ? ORDER BY id LIMIT ?", (alert_id, limit)
            )
        ]

    def alerts_by_order(self, order_ids: Iterable[str]) -> dict[str, list[Alert]]:
        """Order id -> its warnings, oldest first."""
        found: dict[str, list[Alert]] = {}
        for chunk in chunks(list(order_ids)):
            for row in self._conn.execute(
                f"SELECT * FROM alerts WHERE order_id IN ({marks(chunk)}) ORDER BY id", chunk
            ):
                found.setdefault(row["order_id"], []).append(alert_from_row(row))
        return found

    def warning_counts(self) -> dict[str, int]:
        """Order id -> how many warnings it has had."""
        return dict(self._conn.execute("SELECT order_id, COUNT(*) FROM alerts GROUP BY order_id"))

    def warnings_by_severity(self) -> dict[Severity, int]:
        return {
            Severity(severity): count
            for severity, count in self._conn.execute(
                "SELECT severity, COUNT(*) FROM alerts GROUP BY severity ORDER BY severity"
            )
        }

    # --- the outbox ------------------------------------------------------------------------

    def outbox_pending(self) -> list[OutboxItem]:
        rows = self._conn.execute(
            """SELECT a.*, o.attempts, o.created_at AS queued_at, o.last_error, o.next_attempt_at
               FROM outbox o
               JOIN alerts a ON a.id = o.alert_id WHERE o.state = ? ORDER BY o.alert_id""",
            (OutboxState.PENDING,),
        )
        return [
            OutboxItem(
                id=row["id"],
                alert=alert_from_row(row),
                attempts=row["attempts"],
                created_at=datetime.fromisoformat(row["queued_at"]),
                last_error=row["last_error"],
                next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
            )
            for row in rows
        ]

    def outbox_delivered_to(self, alert_id: int) -> set[str]:
        return {
            row[0]
            for row in self._conn.execute(
                "SELECT target FROM notify_deliveries WHERE alert_id = ?", (alert_id,)
            )
        }

    def outbox_record_delivery(self, alert_ids: Sequence[int], target: str, now: datetime) -> None:
        """A channel confirmed these warnings (one message, or one digest holding them all)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO notify_deliveries (alert_id, target, sent_at) "
                "VALUES (?, ?, ?)",
                [(alert_id, target, now.isoformat()) for alert_id in alert_ids],
            )

    def outbox_mark_sent(self, alert_ids: Sequence[int], now: datetime) -> None:
        with self.transaction() as db:
            db.executemany(
                """UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1,
                   last_error = '' WHERE alert_id = ? AND state = ?""",
                [
                    (OutboxState.SENT, now.isoformat(), alert_id, OutboxState.PENDING)
                    for alert_id in alert_ids
                ],
            )

    def outbox_mark_retry(self, alert_ids: Sequence[int], error: str, next_at: datetime) -> None:
        with self.transaction() as db:
            db.executemany(
                """UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
                   WHERE alert_id = ? AND state = ?""",
                [
                    (error, next_at.isoformat(), alert_id, OutboxState.PENDING)
                    for alert_id in alert_ids
                ],
            )

    def outbox_mark_final(
        self, alert_ids: Sequence[int], state: OutboxState, error: str = ""
    ) -> None:
        """Stop trying: `failed` (given up, no channel for it, cannot be rendered), `muted` or
        `removed`."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET state = ?, last_error = ? WHERE alert_id = ? AND state = ?",
                [(state, error, alert_id, OutboxState.PENDING) for alert_id in alert_ids],
            )

    def outbox_requeue_failed(self, now: datetime, order_id: str | None = None) -> int:
        """Failed notifications go back to `pending`, with a fresh give-up period from now."""
        where = "state = ?" + (
            " AND alert_id IN (SELECT id FROM alerts WHERE order_id = ?)" if order_id else ""
        )
        args: tuple[str, ...] = (
            (OutboxState.FAILED, order_id) if order_id else (OutboxState.FAILED,)
        )
        with self.transaction() as db:
            cursor = db.execute(
                f"""UPDATE outbox SET state = ?, attempts = 0, last_error = '',
                    next_attempt_at = ?, created_at = ? WHERE {where}""",
                (OutboxState.PENDING, now.isoformat(), now.isoformat(), *args),
            )
            return cursor.rowcount

    def outbox_undelivered(self, order_ids: Iterable[str] | None = None) -> list[Undelivered]:
        """Pending and failed notifications, oldest first, optionally for some orders only."""
        rows = self._conn.execute(
            """SELECT a.id, a.order_id, a.rule, o.state, o.attempts, o.last_error FROM outbox o
               JOIN alerts a ON a.id = o.alert_id WHERE o.state IN (?, ?) ORDER BY a.id""",
            (OutboxState.PENDING, OutboxState.FAILED),
        )
        wanted = set(order_ids) if order_ids is not None else None
        return [
            Undelivered(
                alert_id=row[0],
                order_id=row[1],
                rule=row[2],
                state=OutboxState(row[3]),
                attempts=row[4],
                last_error=row[5],
            )
            for row in rows
            if wanted is None or row[1] in wanted
        ]

    def outbox_counts(self) -> dict[OutboxState, int]:
        """Rows by state, every state present (0 when none)."""
        counts = dict.fromkeys(OutboxState, 0)
        for state, count in self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
            counts[OutboxState(state)] = count
        return counts

    def outbox_trouble(self) -> OutboxTrouble:
        failed, retrying, error = self._conn.execute(
            """SELECT COUNT(*) FILTER (WHERE state = ?),
                      COUNT(*) FILTER (WHERE state = ? AND attempts > 0),
                      MAX(NULLIF(last_error, '')) FROM outbox WHERE state IN (?, ?)""",
            (OutboxState.FAILED, OutboxState.PENDING, OutboxState.FAILED, OutboxState.PENDING),
        ).fetchone()
        return OutboxTrouble(failed=failed, retrying=retrying, last_error=error)


def alert_from_row(row: sqlite3.Row) -> Alert:
    return Alert(
        order_id=row["order_id"],
        rule=row["rule"],
        condition=row["condition"],
        severity=Severity(row["severity"]),
        at=datetime.fromisoformat(row["at"]),
        due=datetime.fromisoformat(row["due"]),
        title=row["title"],
        body=row["body"],
        track=row["track"],
        facts=json.loads(row["facts"]),
    )
