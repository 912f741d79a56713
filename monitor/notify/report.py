"""Notifications in `list`, `show` and `notify retry`: what waits, what failed (no Apprise here)."""

from __future__ import annotations

from monitor.clock import Clock
from monitor.notify.languages import Language
from monitor.notify.texts import LINES
from monitor.store import OutboxState, Store


def retry_failed(store: Store, clock: Clock, order_id: str | None) -> int:
    return store.outbox_requeue_failed(clock.now(), order_id)


def summary(store: Store, lang: Language = "en") -> str | None:
    """One line for `list` when notifications are waiting or failed; None when all went."""
    rows = store.outbox_undelivered()
    waiting = sum(1 for row in rows if row.state == OutboxState.PENDING)
    failed = len(rows) - waiting
    if not rows:
        return None
    line = LINES[lang]["outbox_summary"].format(waiting=waiting, failed=failed)
    if failed:
        line += LINES[lang]["outbox_retry_hint"]
    return line


def requeued_line(count: int, lang: Language = "en") -> str:
    """What `notify retry` says it did."""
    return LINES[lang]["requeued"].format(count=count)


def counts(store: Store) -> dict[str, dict[str, int]]:
    """Per order: how many notifications wait and how many failed (for `list --json`)."""
    found: dict[str, dict[str, int]] = {}
    for row in store.outbox_undelivered():
        per_order = found.setdefault(row.order_id, {OutboxState.PENDING: 0, OutboxState.FAILED: 0})
        per_order[row.state] += 1
    return found


def order_lines(store: Store, order_id: str, lang: Language = "en") -> list[str]:
    """`show`: each of the order's notifications that has not reached its channels."""
    words = LINES[lang]
    lines = []
    for row in store.outbox_undelivered([order_id]):
        error = f" — {row.last_error}" if row.last_error else ""
        state = words["state_pending" if row.state == OutboxState.PENDING else "state_failed"]
        lines.append(
            words["outbox_line"].format(
                state=state, rule=row.rule, attempts=row.attempts, error=error
            )
        )
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
