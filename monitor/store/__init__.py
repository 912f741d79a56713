"""The embedded SQLite store: orders, tracking history, the warning ledger and the outbox.

The only way into the database: no SQL lives outside this package. One module per group of
tables, each a part of `Store`:

- `db`: opening, pragmas, permissions, transactions, migrations, integrity, write problems;
- `orders`: orders, their track numbers, removed orders, revisions;
- `history`: snapshots, checkpoints, ETA history;
- `ledger`: the warning ledger, the outbox and channel deliveries;
- `cursors`: per-source cursors;
- `mail`: the mails the e-mail intake has read.
"""

from __future__ import annotations

from monitor.store.cursors import Cursors, SourceCursors
from monitor.store.db import (
    MIGRATIONS,
    SCHEMA_VERSION,
    DuplicateOrder,
    StoreError,
    UnknownOrder,
)
from monitor.store.history import History, HistoryRow, SnapshotRow
from monitor.store.ledger import (
    Ledger,
    OutboxItem,
    OutboxState,
    OutboxTrouble,
    StoredAlert,
    Undelivered,
    alert_from_row,
)
from monitor.store.mail import MailRecord, Mails
from monitor.store.orders import OrderRank, Orders


class Store(Orders, History, Ledger, Cursors, Mails):
    """Open with `Store.open(path)` (or `":memory:"` for a replay); close with `close()`."""


__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DuplicateOrder",
    "HistoryRow",
    "MailRecord",
    "OrderRank",
    "OutboxItem",
    "OutboxState",
    "OutboxTrouble",
    "SnapshotRow",
    "SourceCursors",
    "Store",
    "StoreError",
    "StoredAlert",
    "Undelivered",
    "UnknownOrder",
    "alert_from_row",
]
