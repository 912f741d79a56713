"""A full disk and a damaged database: clear errors, and nothing half-written."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.bus import Bus
from monitor.cli import main
from monitor.clock import SimulatedClock
from monitor.model import Checkpoint, Order, Snapshot, Status
from monitor.pipeline import Pipeline
from monitor.plugin import BaseSource, LookupResult, SourceContext, SourceSettings
from monitor.rules.base import RuleSettings
from monitor.store import SourceCursors, Store, StoreError
from monitor.tracking.poller import Poller
from tests.conftest import at
from tests.http.test_api import AUTH, TOKEN, serve

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
    pipeline.differ.apply([snapshot("N0", 2)])
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk is nearly full

    with pytest.raises(StoreError, match="full"):
        pipeline.differ.apply([snapshot("N1", 50), snapshot("N2", 50)])

    assert len(store.checkpoints(["N0"])["N0"]) == 2
    assert store.checkpoints(["N1", "N2"]) == {"N1": [], "N2": []}
    assert store.get_view("1").tracking.status is None  # type: ignore[union-attr]
    assert store.integrity_check() == "ok"
    store._conn.execute("PRAGMA max_page_count = 1073741823")  # space again: it retries
    pipeline.differ.apply([snapshot("N1", 50)])
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
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    with path.open("r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    before = path.read_bytes()
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "corrupt or truncated" in err and "Traceback" not in err
    assert path.read_bytes() == before


class Bulky(BaseSource):
    """Answers every number with 50 long checkpoints: more than a nearly full disk holds."""

    name = "bulky"
    batch_size = 10

    def __init__(self, settings: SourceSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self.polls = 0

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        self.polls += 1
        return {n: snapshot(n, 50) for n in numbers}


async def until(condition: Callable[[], object]) -> None:
    """Waits for state another task changes; polling keeps the code under test unchanged."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_full_disk_degrades_the_daemon_and_it_recovers_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimulatedClock(T0)
    store = Store.open(tmp_path / "parcel-monitor.db")
    settings = SourceSettings()
    context = SourceContext(
        clock=clock,
        http=lambda: None,  # type: ignore[arg-type,return-value]
        cursors=SourceCursors(store, "bulky"),
    )
    source = Bulky(settings, context)
    pipeline = Pipeline.build(
        store=store, clock=clock, rules=RuleSettings(), sources={"bulky": (source, settings)}
    )
    pipeline.orders.add(Order(id="1", ordered_at=T0, tracks=("N1",)))
    pipeline.orders.add(Order(id="2", ordered_at=T0))  # its track_missing falls due in 7 days
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full ...
    with pytest.raises(StoreError, match="full"):  # ... once the last free bytes are used
        for i in range(100_000):  # each warns at once: the warnings' tables fill up too
            late = Order(id=f"filler-{i}", ordered_at=T0 - timedelta(days=30))
            pipeline.orders.add(late)
    monkeypatch.setattr(Poller, "store_retry_s", 0.02)

    async for api in serve(pipeline, TOKEN):  # the real API with the daemon's health checks
        polling = asyncio.create_task(pipeline.poller.run_source("bulky"))
        try:
            # The answer cannot be stored: polling goes on (a crashed task stops the daemon).
            await until(lambda: source.polls >= 3)
            assert not polling.done()
            assert store.checkpoints(["N1"]) == {"N1": []}
            status, body = await api.call("GET", "/healthz")
            assert status == 503 and "is full" in body["checks"]["store"]
            new = {"id": "3", "ordered": "2026-03-01"}
            assert (await api.call("POST", "/api/orders", new, headers=AUTH))[0] == 503
            clock.set(T0 + timedelta(days=8))
            pipeline.tick()  # track_missing is due but cannot be recorded: it waits, not lost
            assert not store.alerts("2")

            store._conn.execute("PRAGMA max_page_count = 1073741823")  # space again
            await until(lambda: store.checkpoints(["N1"])["N1"])
            assert len(store.checkpoints(["N1"])["N1"]) == 50
            status, body = await api.call("GET", "/healthz")
            assert status == 200 and body["checks"]["store"] == "ok"
            assert (await api.call("POST", "/api/orders", new, headers=AUTH))[0] == 201
            pipeline.tick()
            assert [s.alert.rule for s in store.alerts("2")] == ["track_missing"]
        finally:
            polling.cancel()
    assert store.integrity_check() == "ok"
    store.close()
