"""The last mile and the traps (DOMAIN.md, second set): what is stored, what is concluded, which
conditions the rules see, the settings, and what the warnings say."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.bus import Bus
from monitor.clock import SimulatedClock
from monitor.config import ConfigError, load_settings
from monitor.events import Alert, OrderStateChanged
from monitor.model import (
    Action,
    Checkpoint,
    Destination,
    EtaWindow,
    Order,
    OrderView,
    Point,
    Severity,
    Snapshot,
    Status,
    Stay,
    TrackingState,
)
from monitor.notify.render import render
from monitor.pipeline import Pipeline
from monitor.rules.base import BuyerSettings, Condition, RuleSettings
from monitor.rules.engine import conditions
from monitor.scenario import ScenarioError, parse_scenario
from monitor.store import SCHEMA_VERSION, SnapshotRow, Store
from monitor.tracking.derive import current_stay, derive
from tests import builders
from tests.conftest import REPO, at

T0 = at("2026-05-01T10:00:00+03:00")
S = RuleSettings()
ORDER = Order(
    id="8100000000000077",
    title="Smart plug",
    ordered_at=T0,
    protection_until=T0 + timedelta(days=60),
    tracks=("RR518190935CN",),
)


def cp(day: int, status: Status, text: str = "scan", **more: object) -> Checkpoint:
    return Checkpoint(at=T0 + timedelta(days=day), status=status, text=text, **more)  # type: ignore[arg-type]


def found(view: OrderView, settings: RuleSettings = S) -> dict[str, list[Condition]]:
    by_rule: dict[str, list[Condition]] = {}
    for condition in conditions(view, settings):
        by_rule.setdefault(condition.rule, []).append(condition)
    return by_rule


def at_office(stay: Stay, order: Order = ORDER) -> OrderView:
    return OrderView(
        order=order,
        tracking=TrackingState(status=Status.AT_POST_OFFICE, status_since=stay.since, stay=stay),
    )


# --- the store ----------------------------------------------------------------------------


def test_a_database_of_the_first_schema_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "parcel-monitor.db"
    with builders.database_of_schema(path, 1) as old:
        old.execute(
            "INSERT INTO orders (id, ordered_at, created_at, rev, status, last_cp) "
            "VALUES ('1', ?, ?, 1, 'at_post_office', ?)",
            (
                T0.isoformat(),
                T0.isoformat(),
                '{"at": "2026-05-03T10:00:00+03:00", "status": "at_post_office", "text": "Arrived",'
                ' "location": "Kazan", "code": "8"}',
            ),
        )
        old.execute(
            "INSERT INTO checkpoints VALUES ('N', 0, ?, 'at_post_office', 'Arrived', 'Kazan', '8', "
            "'russianpost', ?)",
            (T0.isoformat(), T0.isoformat()),
        )

    store = Store.open(path)
    assert store.schema_version() == SCHEMA_VERSION == 5
    view = store.get_view("1")
    assert view is not None and view.tracking.last_checkpoint is not None
    assert view.order.origin == ""  # 2 -> 3 ran too: an order from before was typed in
    assert view.tracking.last_checkpoint.text == "Arrived"
    assert view.tracking.stay is None and view.tracking.destination is None
    (old_cp,) = store.checkpoints(["N"])["N"]
    assert (old_cp.point, old_cp.storage_until, old_cp.action, old_cp.postcode) == (
        None,
        None,
        None,
        "",
    )
    store.close()


def test_last_mile_facts_survive_a_restart_and_an_equal_answer_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "parcel-monitor.db"
    clock = SimulatedClock(T0 + timedelta(days=10))
    snapshot = Snapshot(
        number="RR518190935CN",
        source="test",
        status=Status.AT_POST_OFFICE,
        fetched_at=clock.now(),
        checkpoints=(
            cp(2, Status.CUSTOMS, "Passport data required", action=Action.PASSPORT_DATA),
            cp(5, Status.IN_TRANSIT, "Released"),
            cp(
                9,
                Status.AT_POST_OFFICE,
                "Placed in a parcel locker",
                location="Kazan",
                point=Point.LOCKER,
                storage_until=date(2026, 5, 13),
                postcode="420140",
            ),
        ),
        destination=Destination(country="RU", postcode="420140"),
    )
    store = Store.open(path)
    pipeline = Pipeline.build(store=store, clock=clock, sources={}, rules=S, bus=Bus())
    pipeline.orders.add(ORDER)
    pipeline.differ.apply([snapshot])
    derived = store.get_view(ORDER.id)
    store.close()

    again = Store.open(path)
    view = again.get_view(ORDER.id)
    assert view == derived and view is not None
    assert view.tracking.stay == Stay(
        since=T0 + timedelta(days=9),
        point=Point.LOCKER,
        storage_until=date(2026, 5, 13),
        postcode="420140",
        location="Kazan",
    )
    assert view.tracking.destination == Destination("RU", "420140")
    assert [c.postcode for c in view.tracking.places] == ["420140"]
    assert view.tracking.asks == ()  # the customs question was answered since
    stored = again.checkpoints([snapshot.number])[snapshot.number]
    assert [c.action for c in stored] == [Action.PASSPORT_DATA, None, None]
    assert stored[-1].storage_until == date(2026, 5, 13) and stored[-1].point is Point.LOCKER
    # A restarted tracker told the same by a second source derives the same state again: what
    # was stored reads back equal, so nothing is written or published.
    bus = Bus()
    changed: list[OrderStateChanged] = []
    bus.subscribe(OrderStateChanged, changed.append)
    restarted = Pipeline.build(store=again, clock=clock, sources={}, rules=S, bus=bus)
    assert restarted.differ.apply([replace(snapshot, source="mirror")]) == []
    assert changed == []
    again.close()


# --- the derivation -------------------------------------------------------------------------


def test_a_stay_starts_after_another_status_or_at_another_point() -> None:
    arrived = cp(1, Status.AT_POST_OFFICE, postcode="101000")
    forwarded = cp(3, Status.IN_TRANSIT, "Forwarded")
    second = cp(4, Status.AT_POST_OFFICE, postcode="101 001", location="Moscow")
    again = cp(5, Status.AT_POST_OFFICE, "Notice delivered", postcode="101001")
    third = cp(6, Status.AT_POST_OFFICE, postcode="101002")
    assert current_stay([arrived], None) == Stay(since=arrived.at, postcode="101000")
    stay = current_stay([arrived, forwarded, second, again], None)
    assert stay is not None and stay.since == second.at and stay.location == "Moscow"
    assert current_stay([arrived, forwarded, second, again, third], None).since == third.at  # type: ignore[union-attr]
    # Moved from the counter into a locker: another kind of point, another storage time. A scan
    # that does not say which kind (None) is not a move.
    counter = cp(4, Status.AT_POST_OFFICE, point=Point.OFFICE)
    locker = cp(7, Status.AT_POST_OFFICE, point=Point.LOCKER)
    assert current_stay([second, locker], None).since == second.at  # type: ignore[union-attr]
    moved = current_stay([counter, again, locker], None)
    assert moved is not None and (moved.since, moved.point) == (locker.at, Point.LOCKER)
    # The office's newest keep-until day wins (an extension).
    kept = cp(4, Status.AT_POST_OFFICE, storage_until=date(2026, 5, 20))
    extended = cp(8, Status.AT_POST_OFFICE, storage_until=date(2026, 5, 30))
    longer = current_stay([forwarded, kept, extended], None)
    assert longer is not None and (longer.since, longer.storage_until) == (
        kept.at,
        date(2026, 5, 30),
    )
    # A status without a scan to say so: the stay starts when the status did.
    assert current_stay([forwarded], T0) == Stay(since=T0)


def _row(status: Status, **more: object) -> SnapshotRow:
    return SnapshotRow(
        number="RR518190935CN",
        source="test",
        status=status,
        status_seen_at=T0,
        eta=None,
        handover=None,
        newest_ts=None,
        digest="d",
        fetched_at=T0,
        **more,  # type: ignore[arg-type]
    )


def _derive(status: Status, cps: list[Checkpoint], **more: object) -> TrackingState:
    return derive(ORDER, TrackingState(), [_row(status, **more)], {ORDER.tracks[0]: cps}, {})


def test_only_what_is_still_the_case_asks_or_failed() -> None:
    ask = cp(1, Status.CUSTOMS, "Duty to pay", action=Action.DUTY_PAYMENT)
    docs = cp(2, Status.CUSTOMS, "Invoice required", action=Action.CUSTOMS_DOCUMENTS)
    paid = cp(3, Status.CUSTOMS, "Duty paid")
    assert _derive(Status.CUSTOMS, [ask, docs]).asks == (ask, docs)
    assert _derive(Status.CUSTOMS, [ask, docs, paid]).asks == ()
    first = cp(4, Status.DELIVERY_FAILED, "Not at home")
    courier = cp(5, Status.OUT_FOR_DELIVERY)
    second = cp(6, Status.DELIVERY_FAILED, "Not at home again")
    assert _derive(Status.DELIVERY_FAILED, [first, courier, second]).failed_attempts == (second,)
    assert (
        _derive(Status.AT_POST_OFFICE, [first, cp(7, Status.AT_POST_OFFICE)]).failed_attempts == ()
    )


def test_places_are_last_mile_scans_with_a_postcode_first_per_postcode() -> None:
    sorting = cp(1, Status.IN_TRANSIT, postcode="644700")
    arrived = cp(2, Status.AT_POST_OFFICE, postcode="644000")
    delivered = cp(3, Status.DELIVERED, postcode="644 000")
    state = _derive(
        Status.DELIVERED,
        [sorting, arrived, delivered],
        destination=Destination("RU", "644000"),
    )
    assert state.places == (arrived,)
    assert state.destination == Destination("RU", "644000")


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "due_after"),
    [
        (Point.OFFICE, timedelta(days=12)),
        (Point.LOCKER, timedelta(0)),
        (Point.PICKUP_POINT, timedelta(days=4)),
    ],
)
def test_storage_ending_counts_the_kind_of_points_storage(
    point: Point, due_after: timedelta
) -> None:
    since = T0 + timedelta(days=20)
    (condition,) = found(at_office(Stay(since=since, point=point)))["storage_ending"]
    assert condition.due == since + due_after
    assert condition.severity is Severity.CRITICAL
    assert condition.key == f"stay@{since.isoformat()}"


def test_the_carriers_keep_until_day_wins_and_ends_at_midnight_in_the_orders_offset() -> None:
    since = at("2026-05-21T10:00:00+07:00")
    stay = Stay(since=since, storage_until=date(2026, 5, 26))
    (condition,) = found(at_office(stay))["storage_ending"]
    assert condition.due == at("2026-05-24T00:00:00+03:00")
    assert condition.facts["storage_ends"] == "2026-05-27T00:00:00+03:00"
    assert condition.facts["carrier_date"] == "2026-05-26"


def test_storage_settings_are_used() -> None:
    since = T0 + timedelta(days=20)
    settings = RuleSettings(storage_office=timedelta(days=30), storage_notice=timedelta(days=5))
    (condition,) = found(at_office(Stay(since=since)), settings)["storage_ending"]
    assert condition.due == since + timedelta(days=25)


def _gap_view(eta_latest: date, end_hour: int = 10) -> OrderView:
    order = Order(
        id="1",
        ordered_at=T0,
        protection_until=at(f"2026-06-10T{end_hour:02d}:00:00+03:00"),
        tracks=("N",),
    )
    tracking = TrackingState(status=Status.IN_TRANSIT, eta=EtaWindow(T0.date(), eta_latest))
    return OrderView(order=order, tracking=tracking)


def test_protection_gap_is_the_eta_ending_less_than_the_margin_before_protection() -> None:
    # ETA through 06-06 ends at midnight 06-07; protection 06-10 00:00 leaves exactly 3 days.
    assert "protection_gap" not in found(_gap_view(date(2026, 6, 6), end_hour=0))
    (gap,) = found(_gap_view(date(2026, 6, 7)))["protection_gap"]
    assert gap.key == "until@2026-06-10T10:00:00+03:00" and gap.due is None
    assert gap.facts["extend_to"] == "2026-06-10" and gap.severity is Severity.WARNING
    # After protection ended the advice to extend it is moot.
    assert gap.expires == at("2026-06-10T10:00:00+03:00")
    (later,) = found(_gap_view(date(2026, 6, 20)))["protection_gap"]
    assert later.key == gap.key  # a further slip is the same condition


def _destined(
    destination: Destination | None, *places: Checkpoint, status: Status = Status.IN_TRANSIT
) -> OrderView:
    return OrderView(
        order=ORDER, tracking=TrackingState(status=status, destination=destination, places=places)
    )


BUYER = RuleSettings(buyer=BuyerSettings(country="RU", postcodes=("420 111", "420140")))


def test_wrong_destination_compares_only_what_the_buyer_configured() -> None:
    elsewhere = _destined(Destination("RU", "644000"))
    assert "wrong_destination" not in found(elsewhere)  # no [buyer]: silence
    only_country = RuleSettings(buyer=BuyerSettings(country="RU"))
    assert "wrong_destination" not in found(elsewhere, only_country)
    assert "wrong_destination" not in found(_destined(Destination("ru", "420111")), BUYER)
    (mismatch,) = found(elsewhere, BUYER)["wrong_destination"]
    assert mismatch.key == "postcode:644000" and mismatch.severity is Severity.CRITICAL
    assert mismatch.facts["shown"] == "644000" and mismatch.facts["where"] == "addressed"


def test_another_country_is_one_warning_not_one_more_for_its_postcodes() -> None:
    abroad = _destined(Destination("kz", "050000"), cp(3, Status.AT_POST_OFFICE, postcode="050000"))
    (mismatch,) = found(abroad, BUYER)["wrong_destination"]
    assert mismatch.key == "country:KZ"


def test_each_mismatching_place_once_and_after_delivery_too() -> None:
    arrived = cp(3, Status.AT_POST_OFFICE, postcode="630099", location="Novosibirsk")
    delivered = cp(4, Status.DELIVERED, postcode="630 100")
    view = _destined(Destination("RU", "630099"), arrived, delivered, status=Status.DELIVERED)
    keys = [c.key for c in found(view, BUYER)["wrong_destination"]]
    assert keys == ["postcode:630099", "postcode:630100"]
    # Delivered elsewhere is not delivered to the buyer: protection is still watched
    # (`delivered` itself needs status_since).
    assert set(found(view, BUYER)) == {"wrong_destination", "protection_expiring"}
    closed = OrderView(order=Order(id="1", ordered_at=T0, closed=True), tracking=view.tracking)
    assert found(closed, BUYER) == {}


def test_action_and_failed_attempts_once_per_checkpoint() -> None:
    ask = cp(1, Status.CUSTOMS, action=Action.PASSPORT_DATA)
    view = OrderView(order=ORDER, tracking=TrackingState(status=Status.CUSTOMS, asks=(ask,)))
    (condition,) = found(view)["action_required"]
    assert condition.facts["action"] == "passport_data" and condition.severity is Severity.CRITICAL
    failed = OrderView(
        order=ORDER,
        tracking=TrackingState(status=Status.DELIVERY_FAILED, status_since=T0),
    )
    (unscanned,) = found(failed)["delivery_failed"]  # a status without a checkpoint to key on
    assert unscanned.key == f"since@{T0.isoformat()}"


# --- settings -------------------------------------------------------------------------------


def test_the_buyer_section_reaches_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[buyer]\ncountry = "ru"\npostcodes = ["420111"]\n')
    settings, _ = load_settings(config)
    assert settings.rules.buyer == BuyerSettings(country="RU", postcodes=("420111",))
    monkeypatch.setenv("PARCEL_MONITOR_BUYER__POSTCODES", '["420140", "420111"]')
    settings, _ = load_settings(config)
    assert settings.rules.buyer.postcodes == ("420140", "420111")
    config.write_text('[rules.buyer]\ncountry = "RU"\n')
    with pytest.raises(ConfigError, match=r"rules: unknown key 'buyer'.*\[buyer\]"):
        load_settings(config)
    config.write_text('[buyer]\ncountry = "Russia"\n')
    with pytest.raises(ConfigError, match=r"buyer\.country: not an ISO 3166"):
        load_settings(config)


def test_the_example_configuration_documents_every_rule_and_buyer_key() -> None:
    example = (REPO / "config" / "parcel-monitor.example.toml").read_text()
    for name in [*RuleSettings.model_fields, *BuyerSettings.model_fields]:
        if name != "buyer":
            assert f"{name} = " in example, name


# --- what the warnings say ------------------------------------------------------------------


def _alert(rule: str, facts: dict[str, str]) -> Alert:
    return Alert(
        order_id=ORDER.id,
        rule=rule,
        condition="c",
        severity=Severity.CRITICAL,
        at=T0,
        due=T0,
        title="t",
        body="b",
        track=ORDER.track,
        facts=facts,
    )


MOSCOW = ZoneInfo("Europe/Moscow")
STORAGE = {
    "storage_ends": "2026-05-31T14:30:00+03:00",
    "point": "locker",
    "postcode": "190013",
    "location": "Saint Petersburg",
}


@pytest.mark.parametrize(
    ("lang", "code", "office"),
    [("en", "code", "ask the office to extend"), ("ru", "код", "попросите отделение продлить")],
)
def test_storage_ending_says_by_when_where_and_what_to_bring(
    lang: str, code: str, office: str
) -> None:
    view = at_office(Stay(since=T0, point=Point.LOCKER, postcode="190013"))
    message = render(_alert("storage_ending", STORAGE), view, lang, MOSCOW)  # type: ignore[arg-type]
    for needle in ("2026-05-31 14:30", "190013", "Saint Petersburg", code, ORDER.track):
        assert needle in message.text, needle
    # A locker has no office to ask to extend storage.
    assert office not in message.text
    at_the_office = render(
        _alert("storage_ending", {**STORAGE, "point": "office"}),
        view,
        lang,  # type: ignore[arg-type]
        MOSCOW,
    )
    assert office in at_the_office.text
    carrier = render(
        _alert("storage_ending", {**STORAGE, "carrier_date": "2026-06-02"}),
        view,
        lang,
        None,  # type: ignore[arg-type]
    )
    assert "2026-06-02" in carrier.text and "2026-05-31" not in carrier.text


def test_wrong_destination_shows_both_sides_and_names_the_evidence_in_english() -> None:
    facts = {
        "shown": "644000",
        "where": "addressed",
        "field": "postcode",
        "buyer_country": "RU",
        "buyer_postcodes": "420111",
    }
    view = OrderView(order=ORDER)
    en = render(_alert("wrong_destination", facts), view, "en", None)
    assert "addressed to 644000; your settings say postcode 420111" in en.text
    assert "shows the parcel addressed to 644000, which is not my address" in en.text
    ru = render(_alert("wrong_destination", facts), view, "ru", None)
    assert "адресована в 644000" in ru.text and "индекс 420111" in ru.text
    assert "which is not my address (postcode 420111)" in ru.text  # the dispute stays English


# --- scenarios ------------------------------------------------------------------------------


def _scenario(event: dict[str, object], **entry: object) -> dict[str, object]:
    return {
        "order": {"id": "1", "ordered_at": "2026-01-01T10:00:00+03:00"},
        "timeline": [
            {
                "at": "2026-01-02T00:00:00+03:00",
                "track": "N",
                "events": [{"at": "2026-01-02T00:00:00+03:00", "status": "customs", **event}],
                **entry,
            }
        ],
        "end": "2026-01-05T00:00:00+03:00",
    }


def test_scenario_events_carry_the_last_mile_fields() -> None:
    scenario = parse_scenario(
        _scenario(
            {"action": True, "postcode": " 420111 "},
            destination={"country": "ru", "postcode": "420111"},
        )
    )
    checkpoint = scenario.timeline[0].events[0].checkpoint()
    assert (checkpoint.action, checkpoint.postcode) == (Action.OTHER, "420111")
    named = parse_scenario(_scenario({"action": "duty_payment", "storage_until": "2026-01-09"}))
    checkpoint = named.timeline[0].events[0].checkpoint()
    assert (checkpoint.action, checkpoint.storage_until) == (Action.DUTY_PAYMENT, date(2026, 1, 9))
    assert scenario.timeline[0].destination.destination() == Destination("RU", "420111")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (_scenario({"point": "mailbox"}), "timeline[0].events[0].point"),
        (_scenario({"action": "pay"}), "timeline[0].events[0].action"),
        (_scenario({}, destination={"country": "Russia"}), "timeline[0].destination.country"),
        ({**_scenario({}), "buyer": {"country": "RU", "zip": "1"}}, "buyer.zip"),
    ],
)
def test_bad_last_mile_fields_name_the_field(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ScenarioError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(raw, source="s.json")


def test_the_carriers_words_do_not_become_markdown() -> None:
    facts = {**STORAGE, "location": "Kazan *central* [office]"}
    view = at_office(Stay(since=T0, location="Kazan *central* [office]"))
    message = render(_alert("storage_ending", facts), view, "en", MOSCOW)
    assert "Kazan *central* [office]" in message.text
    assert r"Kazan \*central\* \[office\]" in message.markdown
    assert "Kazan *central*" not in message.markdown
