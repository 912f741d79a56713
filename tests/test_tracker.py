"""The poller's order of lookups, a source that runs out mid-cycle, health, and hand-overs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from monitor.clock import SimulatedClock
from monitor.events import Event, OrderStateChanged, OrderUpdated, TrackAssigned
from monitor.model import Checkpoint, Order, Snapshot, Status
from monitor.pipeline import Pipeline
from monitor.plugin import BaseSource, LookupResult, SourceContext, SourceError, SourceSettings
from monitor.rules.base import RuleSettings
from monitor.store import SourceCursors, Store
from tests.conftest import at

T0 = at("2026-03-01T10:00:00+03:00")


class Budgeted(BaseSource):
    """Answers two lookups a cycle, then says its budget is gone."""

    name = "budgeted"
    batch_size = 1

    def __init__(self, settings: SourceSettings, context: SourceContext) -> None:
        super().__init__(settings, context)
        self.asked: list[str] = []
        self.moved = {"A": T0 - timedelta(days=2), "B": T0 - timedelta(days=10)}

    async def lookup(self, numbers: Sequence[str]) -> LookupResult:
        if len(self.asked) == 2:
            raise SourceError("daily request budget used up")
        self.asked += numbers
        now = self.context.clock.now()
        return {
            n: Snapshot(
                n,
                self.name,
                Status.IN_TRANSIT,
                now,
                (Checkpoint(at=self.moved.get(n, T0), status=Status.IN_TRANSIT, text="scan"),),
            )
            for n in numbers
        }


def budgeted_pipeline(
    settings: SourceSettings,
) -> tuple[SimulatedClock, Store, Budgeted, Pipeline]:
    """A pipeline on an in-memory store with one `Budgeted` source, on a simulated clock."""
    clock = SimulatedClock(T0)
    store = Store.open(":memory:")
    source = Budgeted(
        settings,
        SourceContext(
            clock=clock,
            http=lambda: None,  # type: ignore[arg-type,return-value]
            cursors=SourceCursors(store, "budgeted"),
        ),
    )
    pipeline = Pipeline.build(
        store=store, clock=clock, rules=RuleSettings(), sources={"budgeted": (source, settings)}
    )
    return clock, store, source, pipeline


async def test_a_short_budget_goes_to_new_and_moving_numbers_first() -> None:
    _, store, source, pipeline = budgeted_pipeline(SourceSettings())
    for number in ("A", "B"):
        pipeline.orders.add(Order(id=number, ordered_at=T0 - timedelta(days=20), tracks=(number,)))
    pipeline.differ.apply(
        [
            Snapshot(
                n,
                "budgeted",
                Status.IN_TRANSIT,
                T0,
                (Checkpoint(at=source.moved[n], status=Status.IN_TRANSIT, text="scan"),),
            )
            for n in ("A", "B")
        ]
    )
    pipeline.orders.add(Order(id="C", ordered_at=T0, tracks=("C",)))

    report = await pipeline.poller.poll_source("budgeted")

    assert source.asked == ["C", "A"]  # never seen, then the one that moved last
    assert report.checked == 2 and report.failed_batches == 1
    assert not pipeline.poller.health["budgeted"].healthy
    store.close()


def test_a_handover_is_written_by_the_order_book_and_published_as_an_update() -> None:
    clock = SimulatedClock(T0)
    pipeline = Pipeline.build(
        store=Store.open(":memory:"), clock=clock, rules=RuleSettings(), sources={}
    )
    pipeline.orders.add(Order(id="A", ordered_at=T0 - timedelta(days=20), tracks=("LP1",)))
    seen: list[Event] = []
    pipeline.bus.subscribe(Event, seen.append)
    scan = Checkpoint(at=T0 - timedelta(days=1), status=Status.IN_TRANSIT, text="scan")
    pipeline.differ.apply([Snapshot("LP1", "test", Status.IN_TRANSIT, T0, (scan,), handover="RP2")])

    kinds = [type(e) for e in seen]
    assert kinds.index(OrderUpdated) < kinds.index(TrackAssigned) < kinds.index(OrderStateChanged)
    updated = next(e for e in seen if isinstance(e, OrderUpdated))
    assert updated.order.tracks == ("LP1", "RP2") and updated.changed == ("tracks",)
    assert pipeline.orders.get("A").order.tracks == ("LP1", "RP2")
    # Told once: the same answer again changes nothing.
    seen.clear()
    pipeline.differ.apply([Snapshot("LP1", "test", Status.IN_TRANSIT, T0, (scan,), handover="RP2")])
    assert seen == []


async def test_readers_get_a_snapshot_of_source_health_they_cannot_change() -> None:
    _, _, _, pipeline = budgeted_pipeline(SourceSettings())
    before = pipeline.poller.health
    with pytest.raises(TypeError):
        before["budgeted"] = before["budgeted"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        before["budgeted"].failures = 3  # type: ignore[misc]
    for number in ("A", "B", "C"):
        pipeline.orders.add(Order(id=number, ordered_at=T0, tracks=(number,)))
    await pipeline.poller.poll_source("budgeted")
    assert before["budgeted"].healthy and before["budgeted"].polls == 0
    assert pipeline.poller.health["budgeted"].failures == 1


def test_a_number_that_outgrows_the_kept_checkpoints_keeps_its_newest() -> None:
    clock, store, _, pipeline = budgeted_pipeline(SourceSettings(max_checkpoints=10))
    pipeline.orders.add(Order(id="1", ordered_at=T0 - timedelta(days=20), tracks=("A",)))

    def answer(count: int) -> Snapshot:
        scans = tuple(
            Checkpoint(at=T0 + timedelta(hours=i), status=Status.IN_TRANSIT, text=f"scan {i}")
            for i in range(count)
        )
        return Snapshot("A", "budgeted", Status.IN_TRANSIT, clock.now(), scans)

    pipeline.differ.apply([answer(8)])
    assert len(store.checkpoints(["A"])["A"]) == 8
    clock.set(T0 + timedelta(hours=15))
    pipeline.differ.apply([answer(13)])  # five new ones: 13 in all, the newest ten kept
    kept = [cp.text for cp in store.checkpoints(["A"])["A"]]
    assert kept == [f"scan {i}" for i in range(3, 13)]
