"""Opening the database, its migrations, transactions and the write-problem watch.

One file in the state directory, WAL journal, every change inside one transaction. SQLite calls
run on the event loop thread: each is a few indexed statements, and batches are written in one
transaction, so the loop is never held for long.

Schema versions live in `PRAGMA user_version`; `MIGRATIONS[n]` brings version n to n + 1. A
migration is a sequence of single statements run one by one in one transaction (never a script
split on `;`, which would cut a statement holding a `;` in a string or a trigger).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import structlog

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO meta VALUES ('rev', 0)",
        """CREATE TABLE orders (
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
    )""",
        "CREATE INDEX orders_by_rev ON orders (rev)",
        "CREATE TABLE removed_orders (order_id TEXT NOT NULL, rev INTEGER NOT NULL)",
        "CREATE INDEX removed_by_rev ON removed_orders (rev)",
        """CREATE TABLE tracks (
        order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        number TEXT NOT NULL,
        position INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (order_id, number)
    )""",
        "CREATE INDEX tracks_by_number ON tracks (number)",
        """CREATE TABLE snapshots (
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
    )""",
        """CREATE TABLE checkpoints (
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
    )""",
        """CREATE TABLE eta_history (
        order_id TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        eta_from TEXT,
        eta_to TEXT
    )""",
        "CREATE INDEX eta_history_by_order ON eta_history (order_id)",
        """CREATE TABLE alerts (
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
    )""",
        """CREATE TABLE outbox (
        alert_id INTEGER PRIMARY KEY REFERENCES alerts (id),
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        sent_at TEXT,
        created_at TEXT NOT NULL
    )""",
        "CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at)",
        """CREATE TABLE notify_deliveries (
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        target TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (alert_id, target)
    )""",
        """CREATE TABLE cursors (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (source, key)
    )""",
    ),
    # 1 -> 2: the last mile (DOMAIN.md, second set): what checkpoints and snapshots say about
    # pick-up points, keep-until days, the buyer's actions and postcodes, and what the tracker
    # concluded from them. Old rows read as "not said".
    (
        "ALTER TABLE checkpoints ADD COLUMN point TEXT",
        "ALTER TABLE checkpoints ADD COLUMN storage_until TEXT",
        "ALTER TABLE checkpoints ADD COLUMN action TEXT",
        "ALTER TABLE checkpoints ADD COLUMN postcode TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE snapshots ADD COLUMN dest_country TEXT",
        "ALTER TABLE snapshots ADD COLUMN dest_postcode TEXT",
        "ALTER TABLE orders ADD COLUMN stay TEXT",
        "ALTER TABLE orders ADD COLUMN dest_country TEXT",
        "ALTER TABLE orders ADD COLUMN dest_postcode TEXT",
        "ALTER TABLE orders ADD COLUMN asks TEXT",
        "ALTER TABLE orders ADD COLUMN failed_attempts TEXT",
        "ALTER TABLE orders ADD COLUMN places TEXT",
    ),
    # 2 -> 3: where an order came from (e-mail intake), and the mails already read: only what
    # was extracted and the headers that name the mail, never its text.
    (
        "ALTER TABLE orders ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
        """CREATE TABLE mail_messages (
        message_id TEXT PRIMARY KEY,
        sender TEXT NOT NULL,
        sent_at TEXT,
        subject TEXT NOT NULL,
        reader TEXT NOT NULL,
        extracted TEXT NOT NULL,
        order_ids TEXT NOT NULL,
        read_at TEXT NOT NULL
    )""",
    ),
    # 3 -> 4: an order the buyer muted (no pushes; warnings still recorded and shown).
    ("ALTER TABLE orders ADD COLUMN muted INTEGER NOT NULL DEFAULT 0",),
    # 4 -> 5: a number's checkpoints in one row, appended to as text (the layout is described in
    # `codec.py`, next to the code that reads it): a first cycle stores a row per number, not a
    # row per checkpoint. The old rows keep their order (time, then as stored). When each was
    # stored (`seen_at`, which nothing read) survives as when the number's history last changed.
    # group_concat sees the rows of one number in the order of the subquery it aggregates (one
    # aggregate over all numbers would sort them again for GROUP BY, with ties in any order).
    (
        """CREATE TABLE histories (
        number TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        changed_at TEXT NOT NULL
    )""",
        """INSERT INTO histories (number, body, changed_at)
        SELECT number, (
            SELECT group_concat(entry, ',') FROM (
                SELECT CASE
                    WHEN point IS NULL AND storage_until IS NULL AND action IS NULL
                        AND postcode = ''
                    THEN json_array(at, status, text, location, code, source)
                    ELSE json_array(at, status, text, location, code, source,
                        point, storage_until, action, postcode)
                END AS entry
                FROM checkpoints WHERE number = numbers.number ORDER BY ts, rowid
            )
        ), changed_at
        FROM (SELECT number, max(seen_at) AS changed_at FROM checkpoints GROUP BY number)
            AS numbers""",
        "DROP TABLE checkpoints",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


log = structlog.get_logger("monitor.store")


class StoreError(Exception):
    """The store cannot be used: the message says which file and why."""


class DuplicateOrder(StoreError):
    pass


class UnknownOrder(StoreError):
    pass


class Database:
    """The connection and what every table's part shares: transactions, revisions, errors."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._depth = 0
        # Why writes fail right now (a full disk, ...); None once one succeeds again. The daemon
        # stays up meanwhile: /healthz reports it, the API answers 503, writers retry.
        self.write_problem: str | None = None

    @classmethod
    def open(cls, path: Path | str) -> Self:
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
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer parcel-monitor (schema {version}; "
                "this version "
                f"knows up to {SCHEMA_VERSION}); upgrade parcel-monitor or use another state_dir"
            )
        for step in range(version, SCHEMA_VERSION):
            with self.transaction() as db:
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {step + 1}")

    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._conn.close()

    def problem(self) -> str | None:
        """Why the database cannot be used right now (unreadable, writes failing), or None."""
        try:
            self.current_rev()
        except sqlite3.Error as exc:
            return f"database unusable: {exc}"
        return self.write_problem

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

    def _next_rev(self) -> int:
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'rev'")
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])

    def current_rev(self) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'rev'").fetchone()[0])


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
        _tighten(path)
    except OSError as exc:
        raise StoreError(f"cannot create the database {path}: {exc}") from exc


def _tighten(path: Path) -> None:
    """A database written by an older version (or copied in) may be readable by others:
    take that back from the files we own, and leave other owners' files as they are."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
            if info.st_uid == os.getuid() and info.st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            continue
        except OSError as exc:  # e.g. a read-only file system: the database still works
            log.warning("monitor.store.cannot_tighten", path=str(file), reason=str(exc))
