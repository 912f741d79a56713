"""The SQLite store: real files, migrations, the ledger, and the errors people will meet."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.events import Alert
from monitor.model import Order, Severity
from monitor.store import (
    SCHEMA_VERSION,
    DuplicateOrder,
    OutboxState,
    OutboxTrouble,
    Store,
    StoreError,
    UnknownOrder,
    db,
)
from tests import builders
from tests.conftest import at

T0 = at("2026-03-01T10:00:00+03:00")


def alert(condition: str = "c") -> Alert:
    return Alert(
        order_id="1",
        rule="stalled",
        condition=condition,
        severity=Severity.WARNING,
        at=T0,
        due=T0,
        title="t",
        body="b",
    )


def test_orders_round_trip_through_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "s" / "db.sqlite3"
    store = Store.open(path)
    order = Order(
        id="1",
        ordered_at=T0,
        paid_at=T0 + timedelta(minutes=5),
        title="Кабель",
        protection_until=T0 + timedelta(days=60),
        tracks=("A", "B"),
    )
    store.add_order(order, now=T0)
    store.close()
    again = Store.open(path)
    assert again.get_order("1") == order
    assert again._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.integrity_check() == "ok"


def test_duplicate_and_unknown_orders_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    store.add_order(Order(id="1", ordered_at=T0), now=T0)
    rev = store.current_rev()
    with pytest.raises(DuplicateOrder, match="already exists"):
        store.add_order(Order(id="1", ordered_at=T0, title="other"), now=T0)
    with pytest.raises(UnknownOrder):
        store.update_order(Order(id="2", ordered_at=T0), now=T0)
    assert store.get_order("1").title == "" and store.current_rev() == rev  # type: ignore[union-attr]


def test_the_ledger_records_a_condition_once_with_its_outbox_entry(tmp_path: Path) -> None:
    path = tmp_path / "db"
    first, second = Store.open(path), Store.open(path)  # two processes racing
    assert first.record_alert(alert()) is not None
    assert second.record_alert(alert()) is None
    assert second.record_alert(alert("other")) is not None
    outbox = sum(first.outbox_counts().values())
    assert outbox == 2 and len(first.alerts()) == 2


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer parcel-monitor"):
        Store.open(path)


def test_a_corrupt_file_is_a_clear_error_and_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a readable parcel-monitor database"):
        Store.open(path)
    assert path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(StoreError):
        Store.open(locked / "sub" / "db")


def test_a_state_directory_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("I am a file")
    with pytest.raises(StoreError, match="cannot create the state directory"):
        Store.open(blocker / "sub" / "db")


def test_the_database_and_its_directory_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask outside systemd, where files come out 0644
    try:
        store = Store.open(tmp_path / "state" / "parcel-monitor.db")
        store.add_order(Order(id="A", ordered_at=T0, notes="flat 5, +7 900 000-00-00"), now=T0)
        modes = {
            path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "state").iterdir()
        }
        store.close()
    finally:
        os.umask(old)
    assert modes == {
        "parcel-monitor.db": 0o600,
        "parcel-monitor.db-wal": 0o600,
        "parcel-monitor.db-shm": 0o600,
    }
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_a_database_an_older_version_left_readable_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "parcel-monitor.db"
    Store.open(path).close()
    for file in tmp_path.iterdir():
        file.chmod(0o644)  # as versions before 0600 left it
    Store.open(path).close()
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in tmp_path.iterdir()} == dict.fromkeys(
        [f.name for f in tmp_path.iterdir()], 0o600
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_warning_and_outbox_counts_come_from_one_query_each(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    store.add_order(Order(id="1", ordered_at=T0), now=T0)
    store.add_order(Order(id="2", ordered_at=T0, closed=True), now=T0)
    sent = store.record_alert(alert("a"))
    store.record_alert(alert("b"))
    critical = Alert(
        order_id="2",
        rule="stalled",
        condition="c",
        severity=Severity.CRITICAL,
        at=T0,
        due=T0,
        title="t",
        body="b",
    )
    failed = store.record_alert(critical)
    assert sent is not None and failed is not None
    store.outbox_mark_sent([sent], T0)
    store.outbox_mark_final([failed], OutboxState.FAILED, "SMTP 550")

    assert store.warning_counts() == {"1": 2, "2": 1}
    assert store.warnings_by_severity() == {Severity.WARNING: 2, Severity.CRITICAL: 1}
    counts = store.outbox_counts()
    assert counts[OutboxState.PENDING] == 1 and counts[OutboxState.SENT] == 1
    assert counts[OutboxState.FAILED] == 1 and counts[OutboxState.MUTED] == 0
    assert store.outbox_trouble() == OutboxTrouble(failed=1, retrying=0, last_error="SMTP 550")
    assert store.open_order_count() == 1
    assert store.outbox_requeue_failed(T0, "2") == 1
    assert store.outbox_counts()[OutboxState.PENDING] == 2


def test_a_migration_that_fails_midway_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with builders.database_of_schema(path, 1) as old:
        # The last statement of migration 1 -> 2 adds `orders.places`: here it is already there.
        old.execute("ALTER TABLE orders ADD COLUMN places TEXT")

    with pytest.raises(StoreError, match="duplicate column"):
        Store.open(path)

    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    columns = {row[1] for row in check.execute("PRAGMA table_info(checkpoints)")}
    assert "point" not in columns  # the migration's first statements were rolled back
    check.close()


def test_a_database_of_schema_2_gains_the_mail_tables_and_keeps_its_orders(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    with builders.database_of_schema(path, 2) as old:
        old.execute(
            "INSERT INTO orders (id, ordered_at, created_at, rev, title) "
            "VALUES ('1', ?, ?, 1, 'Lamp')",
            (T0.isoformat(), T0.isoformat()),
        )

    store = Store.open(path)
    assert store.schema_version() == SCHEMA_VERSION == 4
    view = store.get_view("1")
    assert view is not None and view.order.title == "Lamp" and view.order.origin == ""
    assert store.mails_known(["<a@b>"]) == set() and store.mails_of_order("1") == []
    store.update_order(replace(view.order, origin="mail: Lamp shipped"), now=T0)
    assert store.get_order("1") == replace(view.order, origin="mail: Lamp shipped")
    store.close()


def test_a_database_of_schema_3_keeps_its_orders_unmuted_and_can_mute_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    with builders.database_of_schema(path, 3) as old:
        old.execute(
            "INSERT INTO orders (id, ordered_at, created_at, rev, title, origin) "
            "VALUES ('1', ?, ?, 1, 'Lamp', 'mail: Lamp')",
            (T0.isoformat(), T0.isoformat()),
        )

    store = Store.open(path)
    assert store.schema_version() == SCHEMA_VERSION == 4
    view = store.get_view("1")
    assert view is not None and view.order.title == "Lamp" and view.order.origin == "mail: Lamp"
    assert view.order.muted is False
    store.update_order(replace(view.order, muted=True), now=T0)
    store.close()

    again = Store.open(path)
    order = again.get_order("1")
    assert order is not None and order.muted is True and order.title == "Lamp"
    again.close()


def test_a_statement_holding_a_semicolon_is_run_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = ("CREATE TABLE notes (text TEXT NOT NULL DEFAULT 'a; b')",)
    monkeypatch.setattr(db, "MIGRATIONS", (*db.MIGRATIONS, extra))
    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    store = Store.open(tmp_path / "db")
    assert store.schema_version() == SCHEMA_VERSION + 1
    store._conn.execute("INSERT INTO notes DEFAULT VALUES")
    assert store._conn.execute("SELECT text FROM notes").fetchone()[0] == "a; b"


def test_the_store_says_why_it_cannot_be_used(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    assert store.problem() is None
    store.close()
    problem = store.problem()
    assert problem is not None and problem.startswith("database unusable")
