"""The SQLite store: real files, migrations, the ledger, and the errors people will meet."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import replace
from datetime import date, timedelta, timezone
from pathlib import Path

import pytest

from monitor.events import Alert
from monitor.model import Action, Checkpoint, Order, Point, Severity, Status
from monitor.store import (
    SCHEMA_VERSION,
    DuplicateOrder,
    HistoryRow,
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


# --- a number's checkpoints ----------------------------------------------------------------


def cp(hours: float, text: str, *, zone: int = 3) -> Checkpoint:
    """A checkpoint `hours` after T0, written in the time zone UTC+`zone`."""
    moment = (T0 + timedelta(hours=hours)).astimezone(timezone(timedelta(hours=zone)))
    return Checkpoint(at=moment, status=Status.IN_TRANSIT, text=text)


def texts(store: Store, number: str) -> list[str]:
    return [c.text for c in store.checkpoints([number])[number]]


def test_every_field_of_a_checkpoint_reads_back_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = Store.open(path)
    arrived = Checkpoint(
        at=at("2026-03-04T08:15:30.250000-05:00"),
        status=Status.AT_POST_OFFICE,
        text='Прибыло в место вручения, "окно 3", [ячейка 12]',
        location="Казань, 420140",
        code="8.2",
        point=Point.LOCKER,
        storage_until=date(2026, 3, 11),
        action=Action.PASSPORT_DATA,
        postcode="420 140",
    )
    plain = Checkpoint(at=T0, status=Status.INFO_RECEIVED, text="Electronic information received")
    only_postcode = replace(
        plain, at=T0 + timedelta(days=1), status=Status.IN_TRANSIT, postcode="1"
    )
    store.add_checkpoints("N", "cainiao", [plain], now=T0)
    store.add_checkpoints("N", "russianpost", [arrived, only_postcode], now=T0)
    store.close()

    again = Store.open(path)
    assert again.checkpoints(["N", "M"]) == {"N": [plain, only_postcode, arrived], "M": []}
    (stored,) = [c for c in again.checkpoints(["N"])["N"] if c.text == arrived.text]
    assert stored.at.utcoffset() == timedelta(hours=-5)  # the carrier's own offset, kept
    assert again.history(["N"]) == [
        HistoryRow(number="N", source="cainiao", checkpoint=plain),
        HistoryRow(number="N", source="russianpost", checkpoint=only_postcode),
        HistoryRow(number="N", source="russianpost", checkpoint=arrived),
    ]


def test_checkpoints_added_later_are_appended_and_read_back_oldest_first(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    store.add_checkpoints("N", "a", [cp(1, "accepted"), cp(5, "departed")], now=T0)
    store.add_checkpoints("N", "a", [cp(9, "arrived")], now=T0)
    # A scan reported late, by another source, sits between the ones it happened between.
    store.add_checkpoints("N", "b", [cp(3, "exported")], now=T0)
    store.add_checkpoints("M", "a", [cp(2, "other parcel")], now=T0)
    assert texts(store, "N") == ["accepted", "exported", "departed", "arrived"]
    assert [(row.number, row.source, row.checkpoint.text) for row in store.history(["N", "M"])] == [
        ("N", "a", "accepted"),
        ("M", "a", "other parcel"),
        ("N", "b", "exported"),
        ("N", "a", "departed"),
        ("N", "a", "arrived"),
    ]
    assert store._conn.execute("SELECT count(*) FROM histories").fetchone()[0] == 2


def test_checkpoints_at_the_same_time_keep_the_order_they_were_added_in(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    # The same instant, written in three time zones, added in three calls and within one call.
    store.add_checkpoints("N", "a", [cp(4, "first", zone=8)], now=T0)
    store.add_checkpoints("N", "a", [cp(4, "second"), cp(1, "earlier")], now=T0)
    store.add_checkpoints("N", "b", [cp(4, "third", zone=0), cp(4, "fourth")], now=T0)
    assert texts(store, "N") == ["earlier", "first", "second", "third", "fourth"]
    assert [row.checkpoint.text for row in store.history(["N"])] == texts(store, "N")
    # The same instant on two numbers of one order: in the order the numbers are asked for.
    store.add_checkpoints("M", "a", [cp(4, "handed over")], now=T0)
    timeline = ["earlier", "handed over", "first", "second", "third", "fourth"]
    assert [row.checkpoint.text for row in store.history(["M", "N"])] == timeline


def test_a_number_that_outgrows_what_is_kept_keeps_its_newest(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    store.add_checkpoints("N", "a", [cp(h, f"scan {h}") for h in (1, 2, 3, 4, 5)], now=T0)
    store.add_checkpoints("M", "a", [cp(1, "untouched")], now=T0)
    # Added out of order: one older than all kept, and one at the same time as "scan 3" at the
    # edge of what is kept, where the one added later counts as the newer.
    store.add_checkpoints(
        "N", "b", [cp(0, "too old"), cp(7, "scan 7"), cp(3, "tie")], now=T0, keep=4
    )
    assert texts(store, "N") == ["tie", "scan 4", "scan 5", "scan 7"]
    # The trimmed history is appended to as before; trimming with nothing new trims only.
    store.add_checkpoints("N", "a", [cp(8, "scan 8")], now=T0)
    assert texts(store, "N") == ["tie", "scan 4", "scan 5", "scan 7", "scan 8"]
    store.add_checkpoints("N", "a", [], now=T0, keep=2)
    assert texts(store, "N") == ["scan 7", "scan 8"]
    assert [row.source for row in store.history(["N"])] == ["b", "a"]
    # A number with no history yet keeps only its newest, too.
    store.add_checkpoints("K", "a", [cp(2, "b"), cp(1, "a"), cp(3, "c")], now=T0, keep=2)
    assert texts(store, "K") == ["b", "c"]
    assert texts(store, "M") == ["untouched"]


def test_a_database_of_schema_4_keeps_its_checkpoints_in_one_row_per_number(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db"
    locker = replace(
        cp(30, "Placed in a parcel locker"),
        point=Point.LOCKER,
        storage_until=date(2026, 3, 6),
        action=Action.PASSPORT_DATA,
        postcode="190013",
    )
    # Stored out of time order, two numbers interleaved, a tie, another offset, two sources.
    stored = [
        ("N", cp(20, "departed"), "cainiao"),
        ("M", cp(5, "other parcel"), "cainiao"),
        ("N", cp(10, "accepted", zone=8), "cainiao"),
        ("N", locker, "russianpost"),
        ("N", cp(20, "arrived at the same time, stored later"), "russianpost"),
        ("N", cp(25, 'quoted "text", with commas [and brackets]'), "russianpost"),
    ]
    with builders.database_of_schema(path, 4) as old:
        for number, checkpoint, source in stored:
            old.execute(
                "INSERT INTO checkpoints (number, ts, at, status, text, location, code, source, "
                "seen_at, point, storage_until, action, postcode) "
                "VALUES (?, ?, ?, ?, ?, 'Pulkovo', '', ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    checkpoint.at.timestamp(),
                    checkpoint.at.isoformat(),
                    checkpoint.status.value,
                    checkpoint.text,
                    source,
                    T0.isoformat(),
                    checkpoint.point,
                    checkpoint.storage_until and checkpoint.storage_until.isoformat(),
                    checkpoint.action,
                    checkpoint.postcode,
                ),
            )

    store = Store.open(path)
    assert store.schema_version() == SCHEMA_VERSION == 5
    tables = {row[0] for row in store._conn.execute("SELECT name FROM sqlite_master")}
    assert "checkpoints" not in tables and "histories" in tables
    expected = [
        ("N", cp(10, "accepted", zone=8), "cainiao"),
        ("N", cp(20, "departed"), "cainiao"),
        ("N", cp(20, "arrived at the same time, stored later"), "russianpost"),
        ("N", cp(25, 'quoted "text", with commas [and brackets]'), "russianpost"),
        ("N", locker, "russianpost"),
    ]
    located = [replace(checkpoint, location="Pulkovo") for _, checkpoint, _ in expected]
    assert store.checkpoints(["N", "M"]) == {
        "N": located,
        "M": [replace(cp(5, "other parcel"), location="Pulkovo")],
    }
    assert [(row.source, row.checkpoint) for row in store.history(["N"])] == [
        (source, checkpoint) for (_, _, source), checkpoint in zip(expected, located, strict=True)
    ]
    # An upgraded history is appended to like a new one.
    store.add_checkpoints("N", "russianpost", [cp(40, "delivered")], now=T0)
    assert texts(store, "N")[-2:] == ["Placed in a parcel locker", "delivered"]
    store.close()


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
    assert store.schema_version() == SCHEMA_VERSION == 5
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
    assert store.schema_version() == SCHEMA_VERSION == 5
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
