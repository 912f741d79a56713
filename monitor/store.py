"""The embedded SQLite store: orders, tracking history, the warning ledger and the outbox.

One file in the state directory, WAL journal, every change inside one transaction. SQLite calls
run on the event loop thread: each is a few indexed statements, and batches are written in one
transaction, so the loop is never held for long.

Schema versions live in `PRAGMA user_version`; `MIGRATIONS[n]` brings version n to n + 1.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import structlog

from monitor.events import Alert
from monitor.model import (
    Action,
    Checkpoint,
    Destination,
    EtaWindow,
    Order,
    OrderView,
    Point,
    Severity,
    SnapshotRow,
    Status,
    Stay,
    TrackingState,
)

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta VALUES ('rev', 0);
    CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        shop TEXT NOT NULL DEFAULT '',
        ordered_at TEXT NOT NULL,
        paid_at TEXT,
        protection_until TEXT,
        promised_by TEXT,
        estimate_from TEXT,
        estimate_to TEXT,
        notes TEXT NOT NULL DEFAULT '',
        closed INTEGER NOT NULL DEFAULT 0,
        status TEXT,
        status_since TEXT,
        last_cp TEXT,
        eta_from TEXT,
        eta_to TEXT,
        eta_first_latest TEXT,
        eta_last_latest TEXT,
        eta_later_moves INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        rev INTEGER NOT NULL
    );
    CREATE INDEX orders_by_rev ON orders (rev);
    CREATE TABLE removed_orders (order_id TEXT NOT NULL, rev INTEGER NOT NULL);
    CREATE INDEX removed_by_rev ON removed_orders (rev);
    CREATE TABLE tracks (
        order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        number TEXT NOT NULL,
        position INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (order_id, number)
    );
    CREATE INDEX tracks_by_number ON tracks (number);
    CREATE TABLE snapshots (
        number TEXT NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        status_seen_at TEXT NOT NULL,
        eta_from TEXT,
        eta_to TEXT,
        handover TEXT,
        newest_ts REAL,
        digest TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (number, source)
    );
    CREATE TABLE checkpoints (
        number TEXT NOT NULL,
        ts REAL NOT NULL,
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        text TEXT NOT NULL,
        location TEXT NOT NULL,
        code TEXT NOT NULL,
        source TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        UNIQUE (number, ts, status, text)
    );
    CREATE TABLE eta_history (
        order_id TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        eta_from TEXT,
        eta_to TEXT
    );
    CREATE INDEX eta_history_by_order ON eta_history (order_id);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        order_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        condition TEXT NOT NULL,
        severity TEXT NOT NULL,
        at TEXT NOT NULL,
        due TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        track TEXT,
        facts TEXT NOT NULL,
        UNIQUE (order_id, rule, condition)
    );
    CREATE TABLE outbox (
        alert_id INTEGER PRIMARY KEY REFERENCES alerts (id),
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        sent_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at);
    CREATE TABLE notify_deliveries (
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        target TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (alert_id, target)
    );
    CREATE TABLE cursors (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (source, key)
    );
    """,
    # 1 -> 2: the last mile (DOMAIN.md, second set): what checkpoints and snapshots say about
    # pick-up points, keep-until days, the buyer's actions and postcodes, and what the tracker
    # concluded from them. Old rows read as "not said".
    """
    ALTER TABLE checkpoints ADD COLUMN point TEXT;
    ALTER TABLE checkpoints ADD COLUMN storage_until TEXT;
    ALTER TABLE checkpoints ADD COLUMN action TEXT;
    ALTER TABLE checkpoints ADD COLUMN postcode TEXT NOT NULL DEFAULT '';
    ALTER TABLE snapshots ADD COLUMN dest_country TEXT;
    ALTER TABLE snapshots ADD COLUMN dest_postcode TEXT;
    ALTER TABLE orders ADD COLUMN stay TEXT;
    ALTER TABLE orders ADD COLUMN dest_country TEXT;
    ALTER TABLE orders ADD COLUMN dest_postcode TEXT;
    ALTER TABLE orders ADD COLUMN asks TEXT;
    ALTER TABLE orders ADD COLUMN failed_attempts TEXT;
    ALTER TABLE orders ADD COLUMN places TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


log = structlog.get_logger("monitor.store")


class StoreError(Exception):
    """The store cannot be used: the message says which file and why."""


class DuplicateOrder(StoreError):
    pass


class UnknownOrder(StoreError):
    pass


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    """SQLite caps the number of ? parameters in one statement."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One stored checkpoint of a number, with the source that reported it."""

    number: str
    source: str
    checkpoint: Checkpoint


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


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    alert: Alert


def _checkpoint_dict(cp: Checkpoint) -> dict[str, str]:
    data = {
        "at": cp.at.isoformat(),
        "status": cp.status.value,
        "text": cp.text,
        "location": cp.location,
        "code": cp.code,
    }
    # The last-mile keys only where the carrier said them: older rows stay as they were.
    if cp.point is not None:
        data["point"] = cp.point.value
    if cp.storage_until is not None:
        data["storage_until"] = cp.storage_until.isoformat()
    if cp.action is not None:
        data["action"] = cp.action.value
    if cp.postcode:
        data["postcode"] = cp.postcode
    return data


def _checkpoint_from_dict(raw: dict[str, str]) -> Checkpoint:
    return Checkpoint(
        at=datetime.fromisoformat(raw["at"]),
        status=Status(raw["status"]),
        text=raw["text"],
        location=raw["location"],
        code=raw["code"],
        point=Point(raw["point"]) if raw.get("point") else None,
        storage_until=_day(raw.get("storage_until")),
        action=Action(raw["action"]) if raw.get("action") else None,
        postcode=raw.get("postcode", ""),
    )


def _checkpoint_json(cp: Checkpoint | None) -> str | None:
    if cp is None:
        return None
    return json.dumps(_checkpoint_dict(cp), ensure_ascii=False)


def _checkpoint_from_json(text: str | None) -> Checkpoint | None:
    return _checkpoint_from_dict(json.loads(text)) if text else None


def _checkpoints_json(cps: Sequence[Checkpoint]) -> str | None:
    return json.dumps([_checkpoint_dict(cp) for cp in cps], ensure_ascii=False) if cps else None


def _checkpoints_from_json(text: str | None) -> tuple[Checkpoint, ...]:
    return tuple(_checkpoint_from_dict(raw) for raw in json.loads(text)) if text else ()


def _stay_json(stay: Stay | None) -> str | None:
    if stay is None:
        return None
    return json.dumps(
        {
            "since": stay.since.isoformat(),
            "point": stay.point.value,
            "storage_until": _iso(stay.storage_until),
            "postcode": stay.postcode,
            "location": stay.location,
        },
        ensure_ascii=False,
    )


def _stay_from_json(text: str | None) -> Stay | None:
    if not text:
        return None
    raw = json.loads(text)
    return Stay(
        since=datetime.fromisoformat(raw["since"]),
        point=Point(raw["point"]),
        storage_until=_day(raw["storage_until"]),
        postcode=raw["postcode"],
        location=raw["location"],
    )


def _destination(country: str | None, postcode: str | None) -> Destination | None:
    if not country and not postcode:
        return None
    return Destination(country=country or "", postcode=postcode or "")


def _eta(start: str | None, end: str | None) -> EtaWindow | None:
    if start is None or end is None:
        return None
    return EtaWindow(date.fromisoformat(start), date.fromisoformat(end))


class Store:
    """Open with `Store.open(path)` (or `":memory:"` for a replay); close with `close()`."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._depth = 0
        # Why writes fail right now (a full disk, ...); None once one succeeds again. The daemon
        # stays up meanwhile: /healthz reports it, the API answers 503, writers retry.
        self.write_problem: str | None = None

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Store:
        where = str(path)
        if where != ":memory:":
            target = Path(where)
            try:
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the state directory {target.parent}: {exc}"
                ) from exc
            _create_private(target)
        try:
            conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 5000")
            if where != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, where)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(where, exc)) from exc
        return store

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer parcel-monitor (schema {version}; "
                "this version "
                f"knows up to {SCHEMA_VERSION}); upgrade parcel-monitor or use another state_dir"
            )
        for step in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {step + 1}")

    def close(self) -> None:
        self._conn.close()

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together or not at all; nesting joins the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self._conn
            finally:
                self._depth -= 1
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(_explain(self.path, exc)) from exc
        self._depth = 1
        try:
            yield self._conn
        except sqlite3.DatabaseError as exc:  # a full disk, a file gone bad under us
            self._depth = 0
            self._rollback()
            raise self._failed(exc) from exc
        except BaseException:
            self._depth = 0
            self._rollback()
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise self._failed(exc) from exc
        if self.write_problem is not None:
            log.info("monitor.store_writable_again", database=self.path)
            self.write_problem = None

    def _failed(self, exc: sqlite3.DatabaseError) -> StoreError:
        reason = _explain(self.path, exc)
        if isinstance(exc, sqlite3.OperationalError) and any(
            word in str(exc) for word in ("full", "disk I/O", "readonly")
        ):
            if self.write_problem is None:  # once per episode, not once per retry
                log.error("monitor.store_write_failed", reason=reason)
            self.write_problem = reason
        return StoreError(reason)

    def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    @property
    def connection(self) -> sqlite3.Connection:
        """For parts that keep their own tables (the notifier's outbox queries)."""
        return self._conn

    def _next_rev(self) -> int:
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'rev'")
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])

    def current_rev(self) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])

    # --- orders --------------------------------------------------------------------------

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
               notes = ?, closed = ?, rev = ? WHERE id = ?""",
            (
                order.title,
                order.shop,
                order.ordered_at.isoformat(),
                _iso(order.paid_at),
                _iso(order.protection_until),
                _iso(order.promised_by),
                _iso(order.estimate.earliest) if order.estimate else None,
                _iso(order.estimate.latest) if order.estimate else None,
                order.notes,
                int(order.closed),
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
        for chunk in _chunks(list(order_ids)):
            for view in self._views(f"WHERE o.id IN ({_marks(chunk)})", chunk):
                views[view.order.id] = view
        return views

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
                f"{query} WHERE order_id IN ({_marks(ids)}) ORDER BY order_id, position", ids
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
        for chunk in _chunks(list(order_ids)):
            for order_id, number, at in self._conn.execute(
                "SELECT order_id, number, added_at FROM tracks "
                f"WHERE order_id IN ({_marks(chunk)})",
                chunk,
            ):
                added.setdefault(order_id, {})[number] = datetime.fromisoformat(at)
        return added

    def write_tracking(self, order_id: str, state: TrackingState, *, now: datetime) -> None:
        """Store the tracker's conclusion about an order (inside the caller's transaction)."""
        db = self._conn
        old = db.execute("SELECT eta_from, eta_to FROM orders WHERE id = ?", (order_id,)).fetchone()
        new_eta = (_iso(state.eta.earliest), _iso(state.eta.latest)) if state.eta else (None, None)
        if old is not None and (old[0], old[1]) != new_eta:
            db.execute(
                "INSERT INTO eta_history (order_id, seen_at, eta_from, eta_to) VALUES (?, ?, ?, ?)",
                (order_id, now.isoformat(), *new_eta),
            )
        destination = state.destination
        db.execute(
            """UPDATE orders SET status = ?, status_since = ?, last_cp = ?, eta_from = ?,
               eta_to = ?, eta_first_latest = ?, eta_last_latest = ?, eta_later_moves = ?,
               stay = ?, dest_country = ?, dest_postcode = ?, asks = ?, failed_attempts = ?,
               places = ? WHERE id = ?""",
            (
                state.status.value if state.status else None,
                _iso(state.status_since),
                _checkpoint_json(state.last_checkpoint),
                *new_eta,
                _iso(state.eta_first_latest),
                _iso(state.eta_last_latest),
                state.eta_later_moves,
                _stay_json(state.stay),
                destination.country if destination is not None else None,
                destination.postcode if destination is not None else None,
                _checkpoints_json(state.asks),
                _checkpoints_json(state.failed_attempts),
                _checkpoints_json(state.places),
                order_id,
            ),
        )

    # --- tracking history ------------------------------------------------------------------

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
        for chunk in _chunks(list(numbers)):
            for number, order_id in self._conn.execute(
                f"SELECT number, order_id FROM tracks WHERE number IN ({_marks(chunk)})", chunk
            ):
                owners.setdefault(number, []).append(order_id)
        return owners

    def newest_scans(self, source: str) -> dict[str, float]:
        """Number -> time (epoch) of its newest checkpoint as this source last reported it."""
        return {
            row[0]: row[1] if row[1] is not None else float("-inf")
            for row in self._conn.execute(
                "SELECT number, newest_ts FROM snapshots WHERE source = ?", (source,)
            )
        }

    def snapshot_digests(self) -> dict[tuple[str, str], str]:
        return {
            (row[0], row[1]): row[2]
            for row in self._conn.execute("SELECT number, source, digest FROM snapshots")
        }

    def snapshot_rows(self, numbers: Iterable[str]) -> list[SnapshotRow]:
        numbers = list(numbers)
        if not numbers:
            return []
        marks = ",".join("?" * len(numbers))
        return [
            SnapshotRow(
                number=row["number"],
                source=row["source"],
                status=Status(row["status"]),
                status_seen_at=datetime.fromisoformat(row["status_seen_at"]),
                eta=_eta(row["eta_from"], row["eta_to"]),
                handover=row["handover"],
                newest_ts=row["newest_ts"],
                digest=row["digest"],
                fetched_at=datetime.fromisoformat(row["fetched_at"]),
                destination=_destination(row["dest_country"], row["dest_postcode"]),
            )
            for row in self._conn.execute(
                f"SELECT * FROM snapshots WHERE number IN ({marks})", numbers
            )
        ]

    def write_snapshot(self, row: SnapshotRow) -> None:
        self._conn.execute(
            """INSERT INTO snapshots (number, source, status, status_seen_at, eta_from, eta_to,
               handover, newest_ts, digest, fetched_at, dest_country, dest_postcode)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (number, source) DO UPDATE SET status = excluded.status,
               status_seen_at = excluded.status_seen_at, eta_from = excluded.eta_from,
               eta_to = excluded.eta_to, handover = excluded.handover,
               newest_ts = excluded.newest_ts, digest = excluded.digest,
               fetched_at = excluded.fetched_at, dest_country = excluded.dest_country,
               dest_postcode = excluded.dest_postcode""",
            (
                row.number,
                row.source,
                row.status.value,
                row.status_seen_at.isoformat(),
                _iso(row.eta.earliest) if row.eta else None,
                _iso(row.eta.latest) if row.eta else None,
                row.handover,
                row.newest_ts,
                row.digest,
                row.fetched_at.isoformat(),
                row.destination.country if row.destination is not None else None,
                row.destination.postcode if row.destination is not None else None,
            ),
        )

    def checkpoints(self, numbers: Iterable[str]) -> dict[str, list[Checkpoint]]:
        """Every stored checkpoint of these numbers, oldest first."""
        numbers = list(numbers)
        result: dict[str, list[Checkpoint]] = {n: [] for n in numbers}
        if not numbers:
            return result
        marks = ",".join("?" * len(numbers))
        for row in self._conn.execute(
            f"""SELECT number, at, status, text, location, code, point, storage_until, action,
                postcode FROM checkpoints WHERE number IN ({marks}) ORDER BY ts, rowid""",
            numbers,
        ):
            result[row[0]].append(
                Checkpoint(
                    at=datetime.fromisoformat(row[1]),
                    status=Status(row[2]),
                    text=row[3],
                    location=row[4],
                    code=row[5],
                    point=Point(row[6]) if row[6] else None,
                    storage_until=_day(row[7]),
                    action=Action(row[8]) if row[8] else None,
                    postcode=row[9],
                )
            )
        return result

    def add_checkpoints(
        self,
        number: str,
        source: str,
        checkpoints: Sequence[Checkpoint],
        *,
        now: datetime,
        keep: int | None = None,
    ) -> None:
        """Store new checkpoints; with `keep`, only the number's newest `keep` remain."""
        seen = now.isoformat()
        self._conn.executemany(
            """INSERT OR IGNORE INTO checkpoints (number, ts, at, status, text, location, code,
               source, seen_at, point, storage_until, action, postcode)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    number,
                    cp.at.timestamp(),
                    cp.at.isoformat(),
                    cp.status.value,
                    cp.text,
                    cp.location,
                    cp.code,
                    source,
                    seen,
                    cp.point.value if cp.point else None,
                    _iso(cp.storage_until),
                    cp.action.value if cp.action else None,
                    cp.postcode,
                )
                for cp in checkpoints
            ],
        )
        if keep is not None:
            self._conn.execute(
                """DELETE FROM checkpoints WHERE number = ? AND rowid NOT IN (
                       SELECT rowid FROM checkpoints WHERE number = ?
                       ORDER BY ts DESC, rowid DESC LIMIT ?)""",
                (number, number, keep),
            )

    def eta_history(self, order_id: str) -> list[tuple[datetime, EtaWindow | None]]:
        return [
            (datetime.fromisoformat(row[0]), _eta(row[1], row[2]))
            for row in self._conn.execute(
                "SELECT seen_at, eta_from, eta_to FROM eta_history WHERE order_id = ? "
                "ORDER BY rowid",
                (order_id,),
            )
        ]

    # --- the warning ledger and the outbox --------------------------------------------------

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

    # --- per-source cursors ---------------------------------------------------------------

    def cursor_get(self, source: str, key: str) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM cursors WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return row[0] if row else None

    def cursor_set(self, source: str, values: Mapping[str, str]) -> None:
        with self.transaction() as db:
            db.executemany(
                """INSERT INTO cursors (source, key, value) VALUES (?, ?, ?)
                   ON CONFLICT (source, key) DO UPDATE SET value = excluded.value""",
                [(source, key, value) for key, value in values.items()],
            )

    # --- reads for the dashboard and the evidence pack (monitor.views) -------------------

    def history(self, numbers: Iterable[str]) -> list[HistoryRow]:
        """Every stored checkpoint of these numbers with the source that reported it, oldest
        first (the timeline of an order across its hand-overs)."""
        numbers = list(numbers)
        rows: list[HistoryRow] = []
        for chunk in _chunks(numbers):
            rows += [
                HistoryRow(
                    number=row[0],
                    source=row[6],
                    checkpoint=Checkpoint(
                        at=datetime.fromisoformat(row[1]),
                        status=Status(row[2]),
                        text=row[3],
                        location=row[4],
                        code=row[5],
                    ),
                )
                for row in self._conn.execute(
                    f"""SELECT number, at, status, text, location, code, source
                        FROM checkpoints WHERE number IN ({_marks(chunk)}) ORDER BY ts, rowid""",
                    chunk,
                )
            ]
        rows.sort(key=lambda row: row.checkpoint.at)
        return rows

    def order_ranks(self, *, include_closed: bool) -> list[OrderRank]:
        """What ranking and searching the orders needs, without building their views."""
        final = [status.value for status in Status if status.is_final]
        rows = self._conn.execute(
            f"""SELECT o.id, o.title, o.closed OR o.status IN ({_marks(final)}),
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
                _dt(protection),
                _day(storage),
                warnings,
                critical,
            )
            for order_id, title, is_final, protection, storage, warnings, critical in rows
        ]

    def alerts_by_order(self, order_ids: Iterable[str]) -> dict[str, list[Alert]]:
        """Order id -> its warnings, oldest first."""
        found: dict[str, list[Alert]] = {}
        for chunk in _chunks(list(order_ids)):
            for row in self._conn.execute(
                f"SELECT * FROM alerts WHERE order_id IN ({_marks(chunk)}) ORDER BY id", chunk
            ):
                found.setdefault(row["order_id"], []).append(alert_from_row(row))
        return found


class SourceCursors:
    """One source's view of the cursor table (the `CursorStore` of the plugin contract)."""

    def __init__(self, store: Store, source: str) -> None:
        self._store = store
        self._source = source

    def get(self, key: str) -> str | None:
        return self._store.cursor_get(self._source, key)

    def set(self, key: str, value: str) -> None:
        self._store.cursor_set(self._source, {key: value})

    def set_many(self, values: Mapping[str, str]) -> None:
        self._store.cursor_set(self._source, values)


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


def _view_from_row(
    row: sqlite3.Row, tracks: tuple[str, ...], track_since: datetime | None, answered: bool
) -> OrderView:
    order = Order(
        id=row["id"],
        ordered_at=datetime.fromisoformat(row["ordered_at"]),
        paid_at=_dt(row["paid_at"]),
        title=row["title"],
        shop=row["shop"],
        protection_until=_dt(row["protection_until"]),
        promised_by=_day(row["promised_by"]),
        estimate=_eta(row["estimate_from"], row["estimate_to"]),
        tracks=tracks,
        notes=row["notes"],
        closed=bool(row["closed"]),
    )
    tracking = TrackingState(
        status=Status(row["status"]) if row["status"] else None,
        status_since=_dt(row["status_since"]),
        last_checkpoint=_checkpoint_from_json(row["last_cp"]),
        eta=_eta(row["eta_from"], row["eta_to"]),
        eta_first_latest=_day(row["eta_first_latest"]),
        eta_last_latest=_day(row["eta_last_latest"]),
        eta_later_moves=row["eta_later_moves"],
        track_since=track_since,
        stay=_stay_from_json(row["stay"]),
        destination=_destination(row["dest_country"], row["dest_postcode"]),
        asks=_checkpoints_from_json(row["asks"]),
        failed_attempts=_checkpoints_from_json(row["failed_attempts"]),
        places=_checkpoints_from_json(row["places"]),
        track_answered=answered,
    )
    return OrderView(order=order, tracking=tracking)


def _explain(path: str, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (
            f"{path} is not a readable parcel-monitor database ({text}); it may be corrupt or "
            "truncated. Move it aside (nothing was changed) and start again, or restore a backup"
        )
    if "readonly" in text or "unable to open" in text:
        return f"cannot write the database {path} ({text}); check the state directory permissions"
    if "full" in text:
        return f"the disk holding {path} is full ({text}); nothing was written"
    return f"database {path}: {text}"


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only, if it is not there yet.

    Orders carry addresses and phone numbers. SQLite gives the -wal and -shm files the
    database file's permissions, so they follow.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the database {path}: {exc}") from exc
