"""Each rule as a pure function of an order view and the settings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from monitor.model import Checkpoint, EtaWindow, Order, OrderView, Severity, Status, TrackingState
from monitor.rules.base import RuleSettings
from monitor.rules.engine import conditions
from tests.conftest import at

T0 = at("2026-03-01T10:00:00+03:00")
S = RuleSettings()


def view(order: Order | None = None, **tracking: object) -> OrderView:
    return OrderView(
        order=order or Order(id="1", ordered_at=T0, tracks=("N",)),
        tracking=TrackingState(**tracking),
    )  # type: ignore[arg-type]


def rules_of(v: OrderView) -> dict[str, list]:
    found: dict[str, list] = {}
    for c in conditions(v, S):
        found.setdefault(c.rule, []).append(c)
    return found


def test_track_missing_counts_from_payment() -> None:
    order = Order(id="1", ordered_at=T0, paid_at=T0 + timedelta(hours=2))
    (c,) = rules_of(view(order))["track_missing"]
    assert c.due == T0 + timedelta(days=7, hours=2)


def test_not_trackable_counts_from_when_the_number_appeared_and_stops_once_scanned() -> None:
    since = T0 + timedelta(days=3)
    (c,) = rules_of(view(status=Status.NOT_FOUND, track_since=since))["not_trackable"]
    assert c.due == since + timedelta(days=10)
    assert "not_trackable" not in rules_of(view(status=Status.IN_TRANSIT, track_since=since))


def test_stalled_only_for_moving_statuses_and_keyed_by_the_last_checkpoint() -> None:
    last = Checkpoint(at=T0, status=Status.IN_TRANSIT, text="x")
    (c,) = rules_of(view(status=Status.IN_TRANSIT, status_since=T0, last_checkpoint=last))[
        "stalled"
    ]
    assert c.due == T0 + timedelta(days=14) and c.key.endswith(T0.isoformat())
    assert "stalled" not in rules_of(
        view(status=Status.CUSTOMS, status_since=T0, last_checkpoint=last)
    )


def test_customs_and_post_office_count_from_the_status_start() -> None:
    assert rules_of(view(status=Status.CUSTOMS, status_since=T0))["customs_delay"][
        0
    ].due == T0 + timedelta(days=7)
    assert rules_of(view(status=Status.AT_POST_OFFICE, status_since=T0))["stuck_at_post_office"][
        0
    ].due == T0 + timedelta(days=5)


def test_overdue_prefers_the_promised_date_then_the_eta_and_counts_from_midnight_after() -> None:
    promised = Order(id="1", ordered_at=T0, tracks=("N",), promised_by=date(2026, 3, 20))
    (c,) = rules_of(view(promised, status=Status.IN_TRANSIT))["overdue"]
    assert c.due == at("2026-03-21T00:00:00+03:00")
    eta = EtaWindow(date(2026, 3, 10), date(2026, 3, 15))
    (c,) = rules_of(view(status=Status.IN_TRANSIT, eta=eta))["overdue"]
    assert c.due == at("2026-03-16T00:00:00+03:00")


def test_two_protection_reminders_the_second_critical_and_the_first_giving_way() -> None:
    end = at("2026-04-01T10:00:00+03:00")
    order = Order(id="1", ordered_at=T0, tracks=("N",), protection_until=end)
    first, last = rules_of(view(order))["protection_expiring"]
    assert (first.due, first.expires, first.severity) == (
        end - timedelta(days=7),
        end - timedelta(days=2),
        Severity.WARNING,
    )
    assert (last.due, last.expires, last.severity) == (
        end - timedelta(days=2),
        end,
        Severity.CRITICAL,
    )
    # After a clock jump past both points only the critical one is live: no flood.
    now = end - timedelta(days=1)
    assert [c.severity for c in (first, last) if c.live_at(now)] == [Severity.CRITICAL]


def test_eta_shifted_needs_two_moves_or_three_days() -> None:
    one_small = dict(
        eta_first_latest=date(2026, 3, 20), eta_last_latest=date(2026, 3, 22), eta_later_moves=1
    )
    assert "eta_shifted" not in rules_of(view(**one_small))
    one_big = {**one_small, "eta_last_latest": date(2026, 3, 23)}
    assert rules_of(view(**one_big))["eta_shifted"][0].key == "move-1"
    two = {**one_small, "eta_later_moves": 2}
    assert rules_of(view(**two))["eta_shifted"][0].key == "move-2"


def test_final_and_closed_orders_only_report_the_outcome() -> None:
    end = at("2026-04-01T10:00:00+03:00")
    order = Order(id="1", ordered_at=T0, tracks=("N",), protection_until=end)
    delivered = rules_of(view(order, status=Status.DELIVERED, status_since=T0))
    assert set(delivered) == {"delivered"}
    returning = rules_of(view(order, status=Status.RETURNING, status_since=T0))
    assert set(returning) == {"returning"}
    closed = Order(id="1", ordered_at=T0, closed=True)
    assert rules_of(view(closed)) == {}


def test_disabled_rules_never_fire() -> None:
    settings = RuleSettings(disabled=("track_missing",))
    assert conditions(view(Order(id="1", ordered_at=T0)), settings) == []


def test_a_date_at_the_edge_of_the_calendar_silences_only_that_rule_of_that_order() -> None:
    """Issue 10: promised 9999-12-31 made the overdue rule overflow and stopped the engine."""
    edge = Order(
        id="8100000000000999",
        ordered_at=datetime(2026, 1, 1, tzinfo=UTC),
        promised_by=date(9999, 12, 31),
    )
    found = rules_of(view(edge))
    assert "overdue" not in found and "track_missing" in found
