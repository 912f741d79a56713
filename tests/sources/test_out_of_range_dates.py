"""Issue 10: one date from year 1 or 9999 in a carrier's answer stopped every notification.

Such dates are dropped where answers enter the core (the tracker), with one log line; the rest
of the answer is kept. The answers here go through the real plugins' parsers.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog
from parcel_monitor_plugins.russianpost import parse_reply
from parcel_monitor_plugins.seventeentrack import parse_push

from monitor.clock import SimulatedClock
from monitor.model import Checkpoint, EtaWindow, Order, Snapshot, Status
from monitor.notify.render import render
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from monitor.sourcekit import HttpReply, bounded
from monitor.store import Store
from tests.notify.conftest import alert

from .test_russianpost import Operation, history
from .test_seventeentrack import event, track_info

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
GOOD = "2026-03-10T08:00:00+03:00"


def pipeline(tmp_path: Path, number: str) -> Pipeline:
    built = Pipeline.build(
        store=Store.open(tmp_path / "state.db"),
        clock=SimulatedClock(NOW),
        sources={},
        rules=RuleSettings(),
    )
    built.orders.add(
        Order(id="8100000000000001", ordered_at=NOW - timedelta(days=30), tracks=(number,))
    )
    return built


def test_a_17track_push_from_year_9999_keeps_its_good_checkpoints(tmp_path: Path) -> None:
    info = track_info(
        events=[event("9999-12-31T23:00:00-14:00", "From the future"), event(GOOD, "Departed")]
    )
    body = json.dumps(
        {"event": "TRACKING_UPDATED", "data": {"number": "RB1", "track_info": info}}
    ).encode()
    snapshot = parse_push(body, NOW)
    assert snapshot is not None
    built = pipeline(tmp_path, "RB1")
    with structlog.testing.capture_logs() as logs:
        built.differ.apply([snapshot])
    stored = built.store.checkpoints(["RB1"])["RB1"]
    assert [cp.text for cp in stored] == ["Departed"]
    dropped = [entry for entry in logs if entry["event"] == "monitor.sources.dates_dropped"]
    assert len(dropped) == 1 and dropped[0]["dates"] == ["9999-12-31T23:00:00-14:00"]
    view = built.store.get_view("8100000000000001")
    assert view is not None and view.tracking.last_checkpoint is not None
    # Nothing fired, and a message about the order renders.
    assert (
        built.store.alerts() == [] and render(alert(order_id="8100000000000001"), view, "en").title
    )


def test_a_russian_post_operation_dated_year_1_is_dropped(tmp_path: Path) -> None:
    xml = history([Operation(1, 1, "0001-01-01T00:00:00+03:00"), Operation(8, 0, GOOD)])
    reply = HttpReply(200, {"Content-Type": "application/soap+xml"}, xml.encode())
    snapshot = parse_reply(reply, "63010245873122", NOW)
    assert isinstance(snapshot, Snapshot) and len(snapshot.checkpoints) == 2
    built = pipeline(tmp_path, "63010245873122")
    built.differ.apply([snapshot])
    stored = built.store.checkpoints(["63010245873122"])["63010245873122"]
    assert [cp.at.year for cp in stored] == [2026]


def test_bounded_drops_an_eta_and_a_keep_until_day_out_of_range() -> None:
    cp = Checkpoint(
        at=datetime(2026, 3, 1, tzinfo=UTC),
        status=Status.AT_POST_OFFICE,
        storage_until=date(9999, 12, 31),
    )
    snapshot = Snapshot(
        number="RB1",
        source="test",
        status=Status.AT_POST_OFFICE,
        fetched_at=NOW,
        checkpoints=(cp,),
        eta=EtaWindow(date(2026, 3, 1), date(9999, 12, 31)),
    )
    clean = bounded(snapshot)
    assert clean.eta is None
    assert clean.checkpoints == (replace(cp, storage_until=None),)
    fine = replace(snapshot, checkpoints=(replace(cp, storage_until=None),), eta=None)
    assert bounded(fine) is fine  # nothing to drop: the same object, no copy
