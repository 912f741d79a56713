"""Deriving an order's state from its numbers' snapshots: pure functions on plain data."""

from __future__ import annotations

from datetime import date

from monitor.model import Checkpoint, EtaWindow, Order, Snapshot, SnapshotRow, Status, TrackingState
from monitor.tracking.derive import derive, new_checkpoints, snapshot_digest
from tests.conftest import at

T0 = at("2026-03-01T10:00:00+03:00")


def cp(when: str, status: Status, text: str = "scan") -> Checkpoint:
    return Checkpoint(at=at(when), status=status, text=text)


def row(
    number: str,
    status: Status,
    *,
    newest: Checkpoint | None = None,
    eta: EtaWindow | None = None,
    seen: str = "2026-03-02T00:00:00+03:00",
) -> SnapshotRow:
    return SnapshotRow(
        number=number,
        source="test",
        status=status,
        status_seen_at=at(seen),
        eta=eta,
        handover=None,
        newest_ts=newest.at.timestamp() if newest else None,
        digest="d",
        fetched_at=at(seen),
    )


def test_repeated_and_reworded_reports_of_a_scan_are_not_new() -> None:
    known = [cp("2026-03-02T08:00:00+03:00", Status.IN_TRANSIT, "Departed")]
    incoming = [
        cp("2026-03-02T08:00:00+03:00", Status.IN_TRANSIT, "Departed"),
        cp(
            "2026-03-02T05:00:00+00:00", Status.IN_TRANSIT, "Departed from facility"
        ),  # same instant
        cp("2026-03-01T08:00:00+03:00", Status.INFO_RECEIVED, "Late report"),
        cp("2026-03-01T08:00:00+03:00", Status.INFO_RECEIVED, "Late report"),
    ]
    fresh = new_checkpoints(incoming, known)
    assert [c.text for c in fresh] == ["Late report"]


def test_digest_ignores_fetch_time_and_checkpoint_order() -> None:
    a = cp("2026-03-02T08:00:00+03:00", Status.IN_TRANSIT)
    b = cp("2026-03-03T08:00:00+03:00", Status.CUSTOMS)
    one = Snapshot("N", "s", Status.CUSTOMS, T0, (a, b))
    two = Snapshot("N", "s", Status.CUSTOMS, at("2026-04-01T00:00:00+00:00"), (b, a))
    three = Snapshot("N", "s", Status.CUSTOMS, T0, (a,))
    assert snapshot_digest(one) == snapshot_digest(two) != snapshot_digest(three)


def test_status_since_is_the_start_of_the_trailing_run_of_checkpoints() -> None:
    order = Order(id="1", ordered_at=T0, tracks=("N",))
    cps = [
        cp("2026-03-02T08:00:00+03:00", Status.IN_TRANSIT),
        cp("2026-03-05T08:00:00+03:00", Status.CUSTOMS),
        cp("2026-03-07T08:00:00+03:00", Status.CUSTOMS),
    ]
    state = derive(
        order, TrackingState(), [row("N", Status.CUSTOMS, newest=cps[-1])], {"N": cps}, {"N": T0}
    )
    assert state.status is Status.CUSTOMS
    assert state.status_since == cps[1].at
    assert state.last_checkpoint == cps[-1]
    assert state.track_since == T0


def test_after_a_handover_the_number_that_moved_last_speaks() -> None:
    order = Order(id="1", ordered_at=T0, tracks=("LP1", "RU1"))
    old = [cp("2026-03-05T08:00:00+03:00", Status.CUSTOMS)]
    new: list[Checkpoint] = []
    rows = [row("LP1", Status.CUSTOMS, newest=old[0]), row("RU1", Status.NOT_FOUND)]
    state = derive(order, TrackingState(), rows, {"LP1": old, "RU1": new}, {})
    assert state.status is Status.CUSTOMS  # the new number has not moved yet
    new = [cp("2026-03-08T08:00:00+03:00", Status.AT_POST_OFFICE)]
    rows[1] = row("RU1", Status.AT_POST_OFFICE, newest=new[0])
    state = derive(order, state, rows, {"LP1": old, "RU1": new}, {})
    assert state.status is Status.AT_POST_OFFICE


def test_eta_moves_are_counted_only_when_later() -> None:
    order = Order(id="1", ordered_at=T0, tracks=("N",))

    def with_eta(prev: TrackingState, latest: date | None) -> TrackingState:
        eta = EtaWindow(date(2026, 3, 1), latest) if latest else None
        return derive(order, prev, [row("N", Status.IN_TRANSIT, eta=eta)], {"N": []}, {})

    s = with_eta(TrackingState(), date(2026, 3, 20))
    s = with_eta(s, date(2026, 3, 18))  # earlier: not a move
    s = with_eta(s, None)  # estimate gone: not a move
    s = with_eta(s, date(2026, 3, 19))  # later than the last estimate
    assert (s.eta_first_latest, s.eta_last_latest, s.eta_later_moves) == (
        date(2026, 3, 20),
        date(2026, 3, 19),
        1,
    )
