"""Notifications in `list`, `show` and `notify retry`: what waits, what failed (no Apprise here)."""

from __future__ import annotations

from monitor.clock import Clock
from monitor.store import OutboxState, Store


def retry_failed(store: Store, clock: Clock, order_id: str | None) -> int:
    return store.outbox_requeue_failed(clock.now(), order_id)


def summary(store: Store) -> str | None:
    """One line for `list` when notifications are waiting or failed; None when all went."""
    rows = store.outbox_undelivered()
    waiting = sum(1 for row in rows if row.state == OutboxState.PENDING)
    failed = len(rows) - waiting
    if not rows:
        return None
    line = f"notifications: {waiting} waiting to be sent, {failed} failed"
    if failed:
        line += " (`parcel-monitor notify retry` sends the failed ones again)"
    return line


def counts(store: Store) -> dict[str, dict[str, int]]:
    """Per order: how many notifications wait and how many failed (for `list --json`)."""
    found: dict[str, dict[str, int]] = {}
    for row in store.outbox_undelivered():
        per_order = found.setdefault(row.order_id, {OutboxState.PENDING: 0, OutboxState.FAILED: 0})
        per_order[row.state] += 1
    return found


def order_lines(store: Store, order_id: str) -> list[str]:
    """`show`: each of the order's notifications that has not reached its channels."""
    lines = []
    for row in store.outbox_undelivered([order_id]):
        error = f" — {row.last_error}" if row.last_error else ""
        lines.append(f"  {row.state:<8} {row.rule} (attempts: {row.attempts}){error}")
    return lines


def order_json(store: Store, order_id: str) -> list[dict[str, object]]:
    return [
        {
            "warning": row.alert_id,
            "rule": row.rule,
            "state": row.state,
            "attempts": row.attempts,
            "last_error": row.last_error,
        }
        for row in store.outbox_undelivered([order_id])
    ]
