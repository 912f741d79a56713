"""What a QA trial found in the dashboard's shapes: a delivered order's warnings hidden, next
steps with unfilled placeholders, no storage deadline shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.clock import SimulatedClock
from monitor.model import Checkpoint, Order, Point, Snapshot, Status
from monitor.pipeline import Pipeline
from monitor.rules.base import BuyerSettings, RuleSettings
from monitor.store import Store
from monitor.views import detail, overview

T0 = datetime(2026, 5, 1, 7, 0, tzinfo=UTC)
ELSEWHERE, LOCKER = "8100000000000091", "8100000000000092"


def _build(tmp_path: Path) -> tuple[Pipeline, SimulatedClock]:
    clock = SimulatedClock(T0)
    store = Store.open(tmp_path / "parcel-monitor.db")
    rules = RuleSettings(buyer=BuyerSettings(country="RU", postcodes=("420111",)))
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=rules)
    book, differ = pipeline.orders, pipeline.differ
    for order_id, track in ((ELSEWHERE, "RR000000001CN"), (LOCKER, "RR000000002CN")):
        book.add(
            Order(
                id=order_id,
                ordered_at=T0,
                tracks=(track,),
                protection_until=T0 + timedelta(days=60),
            )
        )
    clock.set(T0 + timedelta(days=20))
    moved = Checkpoint(at=T0 + timedelta(days=3), status=Status.IN_TRANSIT, text="Departed")
    differ.apply(
        [
            Snapshot(
                number="RR000000001CN",
                source="russianpost",
                status=Status.DELIVERED,
                fetched_at=clock.now(),
                checkpoints=(
                    moved,
                    Checkpoint(
                        at=T0 + timedelta(days=19),
                        status=Status.DELIVERED,
                        text="Delivered",
                        location="Omsk",
                        postcode="644000",
                    ),
                ),
            ),
            Snapshot(
                number="RR000000002CN",
                source="russianpost",
                status=Status.AT_POST_OFFICE,
                fetched_at=clock.now(),
                checkpoints=(
                    moved,
                    Checkpoint(
                        at=T0 + timedelta(days=19),
                        status=Status.AT_POST_OFFICE,
                        text="Arrived at the parcel locker",
                        location="Kazan",
                        postcode="420111",
                        point=Point.LOCKER,
                    ),
                ),
            ),
        ]
    )
    pipeline.tick()
    return pipeline, clock


def test_a_delivered_orders_warnings_stay_visible_with_their_dispute(tmp_path: Path) -> None:
    pipeline, clock = _build(tmp_path)
    item = detail(pipeline.store, ELSEWHERE, now=clock.now(), lang="en")
    assert item is not None and item.summary.final
    rules = [w.rule for w in item.summary.warnings]
    assert "wrong_destination" in rules
    assert item.summary.dispute is not None and "644000" in item.summary.dispute
    # On the overview's "all" list too, but a final order's warnings are not open ones.
    page = overview(pipeline.store, now=clock.now(), lang="en", show="all")
    row = next(o for o in page.orders if o.id == ELSEWHERE)
    assert "wrong_destination" in [w.rule for w in row.warnings] and row.critical == 0
    pipeline.store.close()


def test_next_steps_are_filled_and_the_storage_deadline_shows(tmp_path: Path) -> None:
    pipeline, clock = _build(tmp_path)
    for lang in ("en", "ru"):
        item = detail(pipeline.store, LOCKER, now=clock.now(), lang=lang)
        assert item is not None
        storage = next(w for w in item.summary.warnings if w.rule == "storage_ending")
        steps = " ".join(storage.steps)
        assert "{" not in steps and "RR000000002CN" in steps, steps
        # A locker keeps a parcel 3 days from the first scan there.
        assert item.summary.pick_up_by == T0 + timedelta(days=22)
    pipeline.store.close()
