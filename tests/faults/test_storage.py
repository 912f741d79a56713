"""A full disk and a damaged database: clear errors, and nothing half-written."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.bus import Bus
from monitor.cli import main
from monitor.clock import SimulatedClock
from monitor.model import Checkpoint, Order, Snapshot, Status
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.store import Store, StoreError
from tests.conftest import at

T0 = at("2026-03-01T10:00:00+03:00")


def snapshot(number: str, checkpoints: int) -> Snapshot:
    return Snapshot(
        number=number,
        source="test",
        status=Status.IN_TRANSIT,
        fetched_at=T0,
        checkpoints=tuple(
            Checkpoint(at=T0 + timedelta(hours=i), status=Status.IN_TRANSIT, text="x" * 500)
            for i in range(checkpoints)
        ),
    )


def test_a_full_disk_fails_the_whole_batch_and_keeps_what_was_stored(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    pipeline = Pipeline.build(
        store=store, clock=SimulatedClock(T0), sources={}, rules=RuleSettings(), bus=Bus()
    )
    for i in range(3):
        pipeline.orders.add(Order(id=str(i), ordered_at=T0, tracks=(f"N{i}",)))
    pipeline.tracker.apply([snapshot("N0", 2)])
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is nearly full

    with pytest.raises(StoreError, match="full"):
        pipeline.tracker.apply([snapshot("N1", 50), snapshot("N2", 50)])

    assert len(store.checkpoints(["N0"])["N0"]) == 2
    assert store.checkpoints(["N1", "N2"]) == {"N1": [], "N2": []}
    assert store.get_view("1").tracking.status is None  # type: ignore[union-attr]
    assert store.integrity_check() == "ok"
    store.connection.execute("PRAGMA max_page_count = 1073741823")  # space again: it retries
    pipeline.tracker.apply([snapshot("N1", 50)])
    assert len(store.checkpoints(["N1"])["N1"]) == 50
    store.close()


def test_a_truncated_database_is_a_clear_error_and_left_alone(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = isolated_env / "parcel-monitor.db"
    store = Store.open(path)
    with store.transaction():
        for i in range(500):
            store.add_order(Order(id=str(i), ordered_at=T0, title="x" * 300), now=T0)
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    with path.open("r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    before = path.read_bytes()
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "corrupt or truncated" in err and "Traceback" not in err
    assert path.read_bytes() == before
