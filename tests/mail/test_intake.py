"""What mails do to orders, through the real order book on a real SQLite file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
import pytest
import structlog

from monitor.events import Event, OrderImported, WarningRaised
from monitor.mail.intake import Intake
from monitor.mail.message import Mail
from monitor.mail.reader import Finding, MailReader, load_readers
from monitor.pipeline import Pipeline
from monitor.rules.base import RuleSettings
from tests.mail.conftest import corpus

ALI_EN, ALI_RU = "8183924513740321", "5012345678901234"


def recorded(pipeline: Pipeline) -> list[Event]:
    events: list[Event] = []
    pipeline.bus.subscribe(OrderImported, events.append)
    # Only the intake's own notices: the order dates make track_missing fire too, as they should.
    pipeline.bus.subscribe(
        WarningRaised, lambda e: events.append(e) if e.alert.rule == "mail_import" else None
    )
    return events


def notices(pipeline: Pipeline) -> list[tuple[str, str]]:
    return [
        (s.alert.order_id, s.alert.condition)
        for s in pipeline.store.alerts()
        if s.alert.rule == "mail_import"
    ]


def take(intake: Intake, *names: str) -> None:
    for name in names:
        intake.take(corpus(name))


def test_confirmation_creates_the_order_with_its_dates(pipeline: Pipeline) -> None:
    events = recorded(pipeline)
    outcome = Intake(pipeline, load_readers()).take(corpus("ali-en-confirmation.eml"))
    assert outcome.created == [ALI_EN]
    order = pipeline.orders.get(ALI_EN).order
    assert order.ordered_at == datetime(2026, 11, 2, 6, 31, tzinfo=UTC)
    assert order.title == "USB-C charger 65W GaN, 2 ports" and order.shop == "AliExpress"
    assert order.protection_until == datetime(2027, 1, 16, 6, 31, tzinfo=UTC)
    assert str(order.promised_by) == "2026-12-20" and order.tracks == ()
    assert order.origin.startswith("mail: Order confirmed") and "aliexpress.com" in order.origin
    imported, notice = events
    assert (
        isinstance(imported, OrderImported) and imported.created and imported.reader == "aliexpress"
    )
    assert isinstance(notice, WarningRaised)
    assert notice.alert.rule == "mail_import" and notice.alert.severity.value == "info"
    assert notice.alert.title == f"New order found in your mail: order {ALI_EN}"
    # The order date is what the rules count from: no track yet, so track_missing is waiting.
    assert pipeline.rules.watching == 1
    assert [a.alert.rule for a in pipeline.store.alerts()] == ["track_missing", "mail_import"]


def test_shipping_notices_join_the_order_and_the_newest_number_is_current(
    pipeline: Pipeline,
) -> None:
    intake = Intake(pipeline, load_readers())
    take(intake, "ali-en-confirmation.eml", "ali-en-shipped.eml", "ali-en-second-shipment.eml")
    assert pipeline.orders.get(ALI_EN).order.tracks == ("RB123456785CN", "RA987654326CN")
    take(intake, "ali-ru-confirmation.eml", "ali-ru-shipped.eml", "ali-ru-changed-number.eml")
    order = pipeline.orders.get(ALI_RU).order
    assert order.tracks == ("LP00123456789012", "80081234567893")
    assert str(order.promised_by) == "2026-12-15"
    assert notices(pipeline) == [
        (ALI_EN, "order"),
        (ALI_EN, "track:RB123456785CN"),
        (ALI_EN, "track:RA987654326CN"),
        (ALI_RU, "order"),
        (ALI_RU, "track:LP00123456789012"),
        (ALI_RU, "track:80081234567893"),
    ]


def test_a_shipping_notice_read_first_makes_the_order_and_the_confirmation_dates_it(
    pipeline: Pipeline,
) -> None:
    intake = Intake(pipeline, load_readers())
    take(intake, "ali-en-shipped.eml")
    assert pipeline.orders.get(ALI_EN).order.ordered_at == datetime(
        2026, 11, 5, 11, 2, 44, tzinfo=UTC
    )  # the mail's own date: the order cannot be younger than its shipping notice
    take(intake, "ali-en-confirmation.eml")
    order = pipeline.orders.get(ALI_EN).order
    assert order.ordered_at == datetime(2026, 11, 2, 6, 31, tzinfo=UTC)
    assert order.tracks == ("RB123456785CN",) and order.title.startswith("USB-C")


def test_other_shops_and_derived_ids_never_duplicate(pipeline: Pipeline) -> None:
    intake = Intake(pipeline, load_readers())
    take(intake, "ozon-shipped.eml", "gadget-store-en.eml")
    assert pipeline.orders.get("12345678-0021").order.tracks == ("44001122334459",)
    derived = pipeline.orders.get("gadget-store-RR123456785DE").order
    assert derived.shop == "Gadget Store" and derived.tracks == ("RR123456785DE",)
    # The same number in another mail (a different Message-ID) joins, never duplicates.
    again = corpus("gadget-store-en.eml").replace(b"gs-ship-99812", b"gs-ship-99899")
    outcome = intake.take(again)
    assert not outcome.changed and outcome.skipped == "already known"
    assert len(pipeline.store.views()) == 2


def test_a_number_typed_in_by_hand_is_joined_not_duplicated(pipeline: Pipeline) -> None:
    from monitor.model import Order

    pipeline.orders.add(
        Order(id="mine", ordered_at=datetime(2026, 11, 1, tzinfo=UTC), tracks=("RR123456785DE",))
    )
    outcome = Intake(pipeline, load_readers()).take(corpus("gadget-store-en.eml"))
    assert not outcome.created and [v.order.id for v in pipeline.store.views()] == ["mine"]


def test_traps_and_repeats_change_nothing(pipeline: Pipeline) -> None:
    events = recorded(pipeline)
    intake = Intake(pipeline, load_readers())
    for name in (
        "trap-wrong-check-digit.eml",
        "trap-bank-statement.eml",
        "trap-aliexpress-newsletter.eml",
        "trap-forwarded-order-number.eml",
    ):
        assert intake.take(corpus(name)).skipped == "nothing found"
    take(intake, "ali-en-confirmation.eml")
    assert intake.take(corpus("ali-en-confirmation.eml")).skipped == "already read"
    assert len(pipeline.store.views()) == 1 and len(events) == 2


def test_only_headers_and_findings_are_kept_never_the_text(pipeline: Pipeline) -> None:
    take(Intake(pipeline, load_readers()), "ali-ru-confirmation.eml")
    (record,) = pipeline.store.mails_of_order(ALI_RU)
    assert record.message_id == "<ru-confirm-20261103@mail.aliexpress.ru>"
    assert record.subject == f"Заказ {ALI_RU} оформлен" and "aliexpress.ru" in record.sender
    assert record.extracted[0]["title"] == "Чехол для телефона, силиконовый, чёрный"
    # The file itself, read from outside: no SQL outside the store, none inside this test's code.
    with contextlib.closing(sqlite3.connect(pipeline.store.path)) as raw:
        dump = "\n".join(raw.iterdump())
    assert "Спасибо за покупку" not in dump and "312,40" not in dump


def test_the_notice_is_switched_off_like_any_rule(pipeline: Pipeline) -> None:
    pipeline.rules.settings = RuleSettings(disabled=("mail_import",))
    events = recorded(pipeline)
    take(Intake(pipeline, load_readers()), "ali-en-confirmation.eml")
    assert [type(e) for e in events] == [OrderImported] and notices(pipeline) == []


def test_the_notice_id_is_known_where_rule_ids_are_checked() -> None:
    from monitor.notify.settings import NotifySettings

    assert RuleSettings(disabled=("mail_import",)).disabled == ("mail_import",)
    assert NotifySettings(rule_tags={"mail_import": ("sms",)}).rule_tags == {
        "mail_import": ("sms",)
    }
    with pytest.raises(ValueError, match="mail_importt"):
        RuleSettings(disabled=("mail_importt",))


class Broken(MailReader):
    name = "broken"

    def reads(self, mail: Mail) -> bool:
        return True

    def read(self, mail: Mail) -> Sequence[Finding]:
        raise ValueError("template changed")


class Contradicting(MailReader):
    name = "contradicting"

    def reads(self, mail: Mail) -> bool:
        return True

    def read(self, mail: Mail) -> Sequence[Finding]:
        ordered = datetime(2026, 11, 2, tzinfo=UTC)
        return [
            Finding(shop="X", order_id="A1", ordered_at=ordered),
            # protection before the order date: not a valid order, so no order at all is made
            Finding(shop="X", order_id="B2", ordered_at=ordered, protection_until=ordered),
        ]


@pytest.mark.parametrize("reader", [Broken(), Contradicting()])
def test_a_mail_a_reader_cannot_parse_is_skipped_with_its_message_id(
    pipeline: Pipeline, reader: MailReader
) -> None:
    with structlog.testing.capture_logs() as logs:
        outcome = Intake(pipeline, [reader]).take(corpus("ali-en-confirmation.eml"))
    assert outcome.skipped.startswith("unreadable") and pipeline.store.views() == []
    (line,) = [entry for entry in logs if entry["event"] == "monitor.mail.unreadable"]
    assert line["message_id"] == "<20261102063310.a1@notice.aliexpress.com>"
    assert pipeline.store.mails_known([outcome.message_id]) == set()


def test_mqtt_attributes_and_the_api_say_where_the_order_came_from(pipeline: Pipeline) -> None:
    from monitor.views.data import attributes, order_json

    take(Intake(pipeline, load_readers()), "ozon-shipped.eml")
    view = pipeline.orders.get("12345678-0021")
    expected = "mail: Заказ 12345678-0021 передан в доставку (noreply@sender.ozon.ru, 2026-11-11)"
    assert attributes(view, [], pipeline.clock.now())["origin"] == expected
    assert order_json(view)["origin"] == expected


async def test_the_dashboards_order_page_says_where_the_order_came_from(
    pipeline: Pipeline,
) -> None:
    from monitor.clock import SimulatedClock
    from tests.web.desk import serve

    take(Intake(pipeline, load_readers()), "ozon-shipped.eml")
    assert isinstance(pipeline.clock, SimulatedClock)
    async with (
        serve(pipeline, pipeline.clock, token=None) as desk,
        aiohttp.ClientSession() as session,
        session.get(desk.base + "/orders/12345678-0021") as response,
    ):
        assert response.status == 200
        html = await response.text()
    assert "<dt>Came from</dt><dd>mail: Заказ 12345678-0021 передан в доставку" in html


def test_a_batch_is_merged_per_order_before_the_rules_see_it(pipeline: Pipeline) -> None:
    """The confirmation and the shipping notice read in one go (one import, one IMAP batch):
    the order is written once, with its number, so no "no track number" warning contradicts
    the push. The shipping notice comes first here: the batch is applied oldest mail first."""
    intake = Intake(pipeline, load_readers())
    shipped, confirmed = intake.take_batch(
        [corpus("ali-en-shipped.eml"), corpus("ali-en-confirmation.eml")]
    )
    assert confirmed.created == [ALI_EN] and shipped.tracks == [(ALI_EN, "RB123456785CN")]
    order = pipeline.orders.get(ALI_EN).order
    assert order.tracks == ("RB123456785CN",)
    assert order.ordered_at == datetime(2026, 11, 2, 6, 31, tzinfo=UTC)
    assert [a.alert.rule for a in pipeline.store.alerts()] == ["mail_import"]
    assert [r.message_id for r in pipeline.store.mails_of_order(ALI_EN)] == [
        "<20261102063310.a1@notice.aliexpress.com>",
        shipped.message_id,
    ]


def plain_mail(sender: str, subject: str, body: str, message_id: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: buyer@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nDate: Tue, 10 Nov 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
    ).encode()


def test_a_stranger_naming_an_order_number_cannot_add_a_track_to_it(pipeline: Pipeline) -> None:
    intake = Intake(pipeline, load_readers())
    take(intake, "ali-en-confirmation.eml", "ali-en-shipped.eml")
    spam = plain_mail(
        "AliExpress <noreply@spam.example>",  # a display name anyone can set
        f"Order #{ALI_EN}",
        f"Order #{ALI_EN}\r\nYour tracking number: RA112233447CN\r\n",
        "fake-1@spam.example",
    )
    outcome = intake.take(spam)
    order = pipeline.orders.get(ALI_EN).order
    assert order.tracks == ("RB123456785CN",) and order.track == "RB123456785CN"
    assert ALI_EN not in {order_id for order_id, _ in outcome.tracks}
    # What the stranger said is its own order, tied to its own shop.
    assert outcome.created == [f"spam-example-{ALI_EN}"]


def test_two_shops_sharing_an_order_number_make_two_orders(pipeline: Pipeline) -> None:
    intake = Intake(pipeline, load_readers())
    a, b = intake.take_batch(
        [
            plain_mail(
                "shipping@shopa.example",
                "Shipped",
                "Order #1001\r\nTracking number: RR555123453DE\r\n",
                "a-1@shopa.example",
            ),
            plain_mail(
                "shipping@shopb.example",
                "Shipped",
                "Order #1001\r\nTracking number: RA112233447CN\r\n",
                "b-1@shopb.example",
            ),
        ]
    )
    assert a.created == ["1001"] and b.created == ["shopb-example-1001"]
    assert pipeline.orders.get("1001").order.tracks == ("RR555123453DE",)
    assert pipeline.orders.get("shopb-example-1001").order.tracks == ("RA112233447CN",)
    # The same shop's next mail joins its own order.
    again = plain_mail(
        "news@mail.shopb.example",
        "Re-shipped",
        "Order #1001\r\nNew tracking number: RA555123453CN\r\n",
        "b-2@shopb.example",
    )
    assert intake.take(again).tracks == [("shopb-example-1001", "RA555123453CN")]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_notice_names_the_mail_and_the_order_to_remove(pipeline: Pipeline, lang: str) -> None:
    from monitor.notify.render import render

    take(Intake(pipeline, load_readers()), "ali-en-confirmation.eml", "ali-en-shipped.eml")
    found = {
        s.alert.condition: s.alert for s in pipeline.store.alerts() if s.alert.rule == "mail_import"
    }
    view = pipeline.orders.get(ALI_EN)
    new_order = render(found["order"], view, lang)  # type: ignore[arg-type]
    new_track = render(found["track:RB123456785CN"], view, lang)  # type: ignore[arg-type]
    assert new_order.title != new_track.title
    assert (
        "Order confirmed" in new_order.text
        and "transaction@notice.aliexpress.com" in new_order.text
    )
    assert "Your order has been shipped" in new_track.text
    for message in (new_order, new_track):
        assert f"parcel-monitor remove {ALI_EN}" in message.text


def test_an_order_typed_in_is_joined_by_its_shops_domain_not_by_a_display_name(
    pipeline: Pipeline,
) -> None:
    from monitor.model import Order

    pipeline.orders.add(Order(id="A-77", ordered_at=datetime(2026, 11, 1, tzinfo=UTC), shop="Ozon"))
    intake = Intake(pipeline, load_readers())
    fake = plain_mail(
        "Ozon <track@ozon.example.net>",
        "Order A-77",
        "Order #A-77\r\nTracking number: RA112233447CN\r\n",
        "fake-2@example.net",
    )
    assert intake.take(fake).created == ["example-net-A-77"]
    real = plain_mail(
        "Ozon <noreply@sender.ozon.ru>",
        "Order A-77",
        "Order #A-77\r\nTracking number: RR555123453DE\r\n",
        "real-1@ozon.ru",
    )
    assert intake.take(real).tracks == [("A-77", "RR555123453DE")]
    assert pipeline.orders.get("A-77").order.tracks == ("RR555123453DE",)
