"""Small builders for tests of the daemon's outward faces (MQTT, HTTP): a pipeline on a tmp store,
an order, and a snapshot that moves it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from monitor.clock import SystemClock
from monitor.events import Alert
from monitor.model import (
    Checkpoint,
    Destination,
    EtaWindow,
    Order,
    Point,
    Severity,
    Snapshot,
    Status,
)
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store

ORDERED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def pipeline(tmp_path: Path) -> Pipeline:
    store = Store.open(tmp_path / "parcel-monitor.db")
    return Pipeline.build(store=store, clock=SystemClock(), sources={}, rules=RuleSettings())


def order(
    order_id: str = "8100001", *, track: str | None = "RA100000001CN", title: str = "Desk lamp"
) -> Order:
    return Order(
        id=order_id,
        ordered_at=ORDERED,
        title=title,
        tracks=(track,) if track else (),
        protection_until=ORDERED + timedelta(days=60),
    )


def moved(
    number: str, text: str = "Departed from sorting center", place: str = "Shenzhen"
) -> Snapshot:
    at = ORDERED + timedelta(days=3)
    return Snapshot(
        number=number,
        source="test",
        status=Status.IN_TRANSIT,
        fetched_at=at + timedelta(hours=1),
        checkpoints=(
            Checkpoint(
                at=ORDERED + timedelta(days=2),
                status=Status.INFO_RECEIVED,
                text="Electronic information received",
            ),
            Checkpoint(at=at, status=Status.IN_TRANSIT, text=text, location=place),
        ),
        eta=EtaWindow(date(2026, 2, 1), date(2026, 2, 10)),
    )


def in_locker(number: str) -> Snapshot:
    """The parcel placed in a parcel locker (which keeps it 3 days) on 2026-01-20."""
    at = ORDERED + timedelta(days=10)
    return Snapshot(
        number=number,
        source="test",
        status=Status.AT_POST_OFFICE,
        fetched_at=at + timedelta(hours=1),
        checkpoints=(
            Checkpoint(at=ORDERED + timedelta(days=3), status=Status.IN_TRANSIT, text="Departed"),
            Checkpoint(
                at=at,
                status=Status.AT_POST_OFFICE,
                text="Placed in a parcel locker",
                location="Saint Petersburg",
                point=Point.LOCKER,
                postcode="190013",
            ),
        ),
        destination=Destination(country="RU", postcode="190013"),
    )


def alert(order_id: str, title: str = "No movement for 14 days") -> Alert:
    now = datetime.now(UTC)
    return Alert(
        order_id=order_id,
        rule="stalled",
        condition="test",
        severity=Severity.WARNING,
        at=now,
        due=now,
        title=title,
        body="Write to the seller.",
    )


@contextmanager
def database_of_schema(path: Path, version: int) -> Iterator[sqlite3.Connection]:
    """A database as release `version` of the schema left it: the test fills it, then it is
    committed and closed, ready for `Store.open` to upgrade."""
    from monitor.store.db import MIGRATIONS

    old = sqlite3.connect(path)
    for migration in MIGRATIONS[:version]:
        for statement in migration:
            old.execute(statement)
    yield old
    old.execute(f"PRAGMA user_version = {version}")
    old.commit()
    old.close()
